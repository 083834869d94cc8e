/**
 * The engine's long-lived dependencies for a function instance: one Fly client (so its rate limiter sees all
 * of the instance's calls; the org-wide buckets live in Postgres, shared by every instance) and one
 * repository on the shared Postgres pool, built once per configuration.
 *
 * @module
 */
import { type Config, configSecrets } from "../config.ts";
import { getSql } from "../db/client.ts";
import { PostgresRateBuckets } from "../db/rate_buckets.ts";

import { createFlyClient } from "../fly/mod.ts";
import { createLogger, type Logger } from "../log.ts";
import type { EngineDeps } from "../engine/context.ts";
import { createRepositories } from "../db/repositories.ts";

const built = new WeakMap<Config, Omit<EngineDeps, "log">>();

/** The engine dependencies for `config`, logging to `log` (the request's logger). */
export function engineDeps(config: Config, log: Logger): EngineDeps {
  let shared = built.get(config);
  if (!shared) {
    const sql = getSql(config.db);
    // The client outlives the request that built it, so it logs on its own logger, not the request's.
    const clientLog = createLogger({ level: config.logLevel, secrets: configSecrets(config) });
    const fly = createFlyClient({
      token: config.fly.apiToken,
      baseUrl: config.fly.apiBaseUrl,
      timeoutMs: config.fly.requestTimeoutMs,
      rateLimit: {
        rules: { Apps_create: config.fly.appCreateRule },
        sharedBuckets: new PostgresRateBuckets(sql),
        onSharedBucketError: (error) =>
          clientLog.warn("shared rate bucket unavailable; using this instance's own", {
            error: (error as Error).message,
          }),
      },
    });
    shared = { config, fly, repo: createRepositories(sql) };
    built.set(config, shared);
  }
  return { ...shared, log };
}
