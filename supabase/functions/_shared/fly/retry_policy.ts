/**
 * When and how long the transport waits before repeating a request.
 */
import type { FlyNetworkFailure } from "./errors.ts";
import { BACKOFF, backoffDelayMs } from "../backoff.ts";

/** Retry settings. */
export interface RetryOptions {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** Backoff before the first retry; doubles each time. */
  readonly baseDelayMs: number;
  /** Upper bound of the backoff. */
  readonly maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited out: the error goes to the caller to reschedule. */
  readonly maxRetryAfterMs: number;
}

/** Defaults: 4 retries, {@link BACKOFF}'s `flyRequest` (200 ms doubling up to 5 s), Retry-After up to 30 s. */
export const DEFAULT_RETRY_OPTIONS: RetryOptions = {
  maxRetries: 4,
  baseDelayMs: BACKOFF.flyRequest.baseMs,
  maxDelayMs: BACKOFF.flyRequest.maxMs,
  maxRetryAfterMs: 30_000,
};

/** The wait before repeating a request: {@link BACKOFF}'s `flyRequest` policy (equal jitter) at `options`' scale. */
export function requestRetryDelayMs(
  attempt: number,
  options: RetryOptions,
  random: () => number = Math.random,
): number {
  const policy = { ...BACKOFF.flyRequest, baseMs: options.baseDelayMs, maxMs: options.maxDelayMs };
  return backoffDelayMs(policy, attempt, random);
}

/** Milliseconds from a `Retry-After` header (delta seconds or an HTTP date); undefined when absent or bad. */
export function parseRetryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Kind of a failed `fetch`: the caller's abort, or one of the network failures. */
export function classifyFetchFailure(
  error: unknown,
  callerSignal?: AbortSignal,
): FlyNetworkFailure | "aborted" {
  if (callerSignal?.aborted) return "aborted";
  if (error instanceof DOMException && error.name === "TimeoutError") return "timeout";
  let text = "";
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) text += ` ${cause.message}`;
  return /connection refused|\(Connect\)/i.test(text) ? "connection_refused" : "connection_lost";
}

/** What the transport knows about one failed attempt. */
export interface AttemptOutcome {
  /** The HTTP status, or undefined when there was no response. */
  readonly status?: number;
  /** The network failure, when there was no response. */
  readonly failure?: FlyNetworkFailure | "aborted";
  /** Milliseconds from `Retry-After`, if the response had one. */
  readonly retryAfterMs?: number;
}

/**
 * Whether to repeat a request after `outcome`.
 *
 * Any request is repeated after a 429 (refused before any work) or a refused connection (never arrived).
 * Only idempotent requests are repeated after a 5xx, a lost connection or a timeout, since a create may have
 * succeeded on the server: for those the caller looks for the silent success first.
 */
export function shouldRetry(outcome: AttemptOutcome, idempotent: boolean, options: RetryOptions): boolean {
  if (outcome.failure === "aborted") return false;
  if (outcome.retryAfterMs !== undefined && outcome.retryAfterMs > options.maxRetryAfterMs) return false;
  if (outcome.status === 429 || outcome.failure === "connection_refused") return true;
  if (!idempotent) return false;
  return outcome.failure !== undefined || (outcome.status !== undefined && outcome.status >= 500);
}
