/**
 * Fly's documented Machines API rate limits, as token-bucket rules keyed by spec operation id.
 *
 * Docs: per action and per identifier (machine id or app), 1 request/s with bursts of 3; Get Machine 5/s with
 * bursts of 10; app deletions 100 per minute. The docs state no limit for app creation; it is counted per org
 * at the per-action rule by default ({@link DEFAULT_APP_CREATE_RULE}, configurable).
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

/**
 * Operations counted org-wide (app creates per org, app deletions per token): every function instance must
 * draw from the same bucket, so a limiter with a shared bucket store keeps these buckets there.
 */
const SHARED_OPERATIONS: ReadonlySet<string> = new Set(["Apps_create", "Apps_delete"]);

/** The rules of the buckets counted per app or per machine (each instance keeps those in process). */
const PER_IDENTIFIER_RULES: readonly RateRule[] = [
  PER_ACTION_RULE,
  ...Object.keys(RULE_OVERRIDES).filter((operation) => !SHARED_OPERATIONS.has(operation))
    .map((operation) => RULE_OVERRIDES[operation]),
];

/**
 * Milliseconds Fly needs to refill any bucket counted per app or per machine from empty: a reconciler that
 * takes a user's lease over from another function instance sooner than this after the previous holder let go
 * starts those buckets cold (they live in each instance's limiter, not in Postgres like the org-wide ones).
 */
export const PER_IDENTIFIER_REFILL_MS: number = Math.max(
  ...PER_IDENTIFIER_RULES.map((rule) => (rule.burst / rule.ratePerSecond) * 1000),
);

/** Default app-create rule: Fly's docs state none, so the per-action rule (1/s, burst 3), per org. */
export const DEFAULT_APP_CREATE_RULE: RateRule = PER_ACTION_RULE;

/** The bucket a request draws from. */
export interface RateKey {
  /** Unique name of the bucket. */
  readonly key: string;
  /** The spec operation id the bucket limits (a limiter may configure its rule). */
  readonly operation: string;
  /** The documented rule of the bucket. */
  readonly rule: RateRule;
  /** Whether the limit is counted org-wide, so all function instances must share the bucket. */
  readonly shared: boolean;
}

/** The bucket for `operation` on `identifier` (a machine id, an app name, or an org slug). */
export function rateKeyFor(operation: string, identifier: string): RateKey {
  const scope = GLOBAL_OPERATIONS.has(operation) ? "*" : identifier;
  return {
    key: `${operation}:${scope}`,
    operation,
    rule: RULE_OVERRIDES[operation] ?? PER_ACTION_RULE,
    shared: SHARED_OPERATIONS.has(operation),
  };
}
