/**
 * The one backoff primitive and the project's backoff policies, each named once in {@link BACKOFF}: how long
 * to wait before attempt `n + 1`, in the spirit of Deno std's `retry` (`{base, max, jitter}` with exponential
 * growth), plus {@link pollUntil} and {@link retryWhile}, the loops every retry and poll of the functions
 * runs. A leaf module: it imports nothing.
 *
 * @module
 */

/**
 * A backoff policy: the wait before attempt `n + 1` grows as `min(maxMs, baseMs * 2^n)`; `jitter` spreads
 * it: `none` (the step itself), `full` (uniform in [0, step)), `equal` (half fixed, half random).
 */
export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly jitter: "none" | "full" | "equal";
}

/**
 * Every backoff of the functions. The reconcile retry schedule (full jitter over `RECONCILE_BACKOFF_BASE_MS`
 * up to `RECONCILE_BACKOFF_MAX_MS`) comes from the configuration, see {@link reconcileRetryBackoff}.
 */
export const BACKOFF = {
  /** Repeating a Fly API request the transport may repeat (429, refused connection, idempotent 5xx). */
  flyRequest: { baseMs: 200, maxMs: 5_000, jitter: "equal" },
  /** Repeating a Fly call refused by a transient race (412: machine still active, being replaced). */
  flyRace: { baseMs: 200, maxMs: 2_000, jitter: "none" },
  /** Waiting for Fly to list a machine or volume that a create which failed ambiguously may have made. */
  createTokenLookup: { baseMs: 1_000, maxMs: 1_000, jitter: "none" },
  /** Waiting for just-destroyed machines to release the app's volumes. */
  volumeRelease: { baseMs: 200, maxMs: 2_000, jitter: "none" },
  /** Waiting for a volume snapshot to be `created` (before the volume may be deleted). */
  snapshotWait: { baseMs: 250, maxMs: 5_000, jitter: "none" },
  /** Waiting for another reconciler to let go of a user's lease. */
  leaseWait: { baseMs: 250, maxMs: 2_000, jitter: "none" },
  /** Looking at a rolled-out machine again until it passes or fails the health gate. */
  healthGate: { baseMs: 500, maxMs: 500, jitter: "none" },
  /** Repeating a hand-on to the next invocation that no handler ran. */
  selfInvoke: { baseMs: 500, maxMs: 2_000, jitter: "none" },
} as const satisfies Record<string, Backoff>;

/** The reconcile retry schedule of a failed attempt: full jitter over the configured base and cap. */
export function reconcileRetryBackoff(settings: { baseMs: number; maxMs: number }): Backoff {
  return { baseMs: settings.baseMs, maxMs: settings.maxMs, jitter: "full" };
}

/** The wait in ms before attempt `attempt + 1` (`attempt` counts from 0); `random` is uniform in [0, 1). */
export function backoffDelayMs(policy: Backoff, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  switch (policy.jitter) {
    case "none":
      return step;
    case "full":
      return random() * step;
    case "equal":
      return Math.round(step / 2 + random() * (step / 2));
  }
}

/** Options of {@link pollUntil}. */
export interface PollOptions<T> {
  policy: Backoff;
  /** One look; its result is handed to `settled`. */
  attempt: (attempt: number) => Promise<T>;
  /** Whether a result ends the poll. */
  settled: (value: T) => boolean;
  /** Epoch ms: a wait that would reach it ends the poll unsettled instead. */
  deadline?: number;
  /** At most this many looks (default: unlimited). */
  maxAttempts?: number;
  /** How to wait (default: a timer); may throw to end the poll (e.g. a lost lease). */
  wait?: (ms: number) => Promise<void>;
  /** Uniform [0, 1) source for the jitter. */
  random?: () => number;
}

/** How a poll ended: `settled` false when the deadline or the attempts ran out first; `value` is the last. */
export interface PollResult<T> {
  settled: boolean;
  value: T;
}

const timer = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Looks with `attempt` until `settled` says so, waiting the policy's backoff between looks. */
export async function pollUntil<T>(options: PollOptions<T>): Promise<PollResult<T>> {
  const wait = options.wait ?? timer;
  for (let attempt = 0;; attempt++) {
    const value = await options.attempt(attempt);
    if (options.settled(value)) return { settled: true, value };
    if (options.maxAttempts !== undefined && attempt + 1 >= options.maxAttempts) {
      return { settled: false, value };
    }
    const delay = backoffDelayMs(options.policy, attempt, options.random);
    if (options.deadline !== undefined && Date.now() + delay >= options.deadline) {
      return { settled: false, value };
    }
    await wait(delay);
  }
}

/** Options of {@link retryWhile}. */
export interface RetryWhileOptions {
  policy: Backoff;
  /** Whether an error is worth another attempt; any other error is thrown at once. */
  retryable: (error: unknown) => boolean;
  /** How to wait (may throw, e.g. when the wait would cross a deadline). */
  wait?: (ms: number) => Promise<void>;
}

/** Calls `call` until it succeeds, repeating it after the errors `retryable` accepts. */
export async function retryWhile<T>(call: () => Promise<T>, options: RetryWhileOptions): Promise<T> {
  const result = await pollUntil<{ ok: true; value: T } | { ok: false }>({
    policy: options.policy,
    wait: options.wait,
    attempt: async () => {
      try {
        return { ok: true, value: await call() };
      } catch (error) {
        if (!options.retryable(error)) throw error;
        return { ok: false };
      }
    },
    settled: (outcome) => outcome.ok,
  });
  return (result.value as { ok: true; value: T }).value;
}
