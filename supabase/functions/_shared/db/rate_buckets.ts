/**
 * The Fly client's shared bucket store in Postgres: `private.take_rate_tokens` (migration
 * `20261206000200_engine_api.sql`), so every function instance draws the org-wide Fly limits (app
 * create, app delete) from the same token buckets.
 *
 * @module
 */
import type { SharedBucketStore } from "../fly/limiter.ts";
import type { RateRule } from "../fly/rate_limits.ts";
import type { Sql } from "./client.ts";

/** Token buckets in `private.fly_rate_buckets`, taken with one atomic statement per request. */
export class PostgresRateBuckets implements SharedBucketStore {
  readonly #sql: Sql;

  /** A store on the given pool. */
  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** Reserves `tokens` from bucket `name`; resolves to the milliseconds to wait before using them. */
  async take(name: string, rule: RateRule, tokens: number): Promise<number> {
    const [row] = await this.#sql<{ wait_ms: number }[]>`
      select private.take_rate_tokens(
        ${name}::text, ${rule.ratePerSecond}::float8, ${rule.burst}::int, ${tokens}::int
      ) as wait_ms`;
    return row.wait_ms;
  }
}
