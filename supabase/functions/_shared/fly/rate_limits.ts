/**
 * Fly's documented Machines API rate limits, as token-bucket rules keyed by spec operation id.
 *
 * Docs: per action and per identifier (machine id or app), 1 request/s with bursts of 3; Get Machine 5/s with
 * bursts of 10; app deletions 100 per minute.
 */

/** A token bucket: sustained rate and bucket size. */
export interface RateRule {
  /** Tokens added per second. */
  readonly ratePerSecond: number;
  /** Bucket size: how many requests may go at once after a quiet period. */
  readonly burst: number;
}

/** The default rule for every action on one machine or app. */
export const PER_ACTION_RULE: RateRule = { ratePerSecond: 1, burst: 3 };

const RULE_OVERRIDES: Readonly<Record<string, RateRule>> = {
  Machines_show: { ratePerSecond: 5, burst: 10 },
  Apps_delete: { ratePerSecond: 100 / 60, burst: 100 },
};

/** Operations whose limit is shared by all identifiers (app deletions are counted per token, not per app). */
const GLOBAL_OPERATIONS: ReadonlySet<string> = new Set(["Apps_delete"]);

/** The bucket a request draws from. */
export interface RateKey {
  /** Unique name of the bucket. */
  readonly key: string;
  /** The rule of the bucket. */
  readonly rule: RateRule;
}

/** The bucket for `operation` on `identifier` (a machine id, an app name, or an org slug). */
export function rateKeyFor(operation: string, identifier: string): RateKey {
  const scope = GLOBAL_OPERATIONS.has(operation) ? "*" : identifier;
  return { key: `${operation}:${scope}`, rule: RULE_OVERRIDES[operation] ?? PER_ACTION_RULE };
}
