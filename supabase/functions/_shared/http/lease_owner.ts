/**
 * Lease owners are attempts, never callers: each reconcile or sweep attempt draws a fresh owner, so two
 * requests that carry the same `X-Request-Id` (a retry, a replay, a caller choosing it) can never both hold
 * one user's lease. The request id stays in the logs only.
 *
 * @module
 */

/** A lease owner for one attempt of `holder` (a function's name): `<holder>:<random UUID>`. */
export function attemptOwner(holder: string): string {
  return `${holder}:${crypto.randomUUID()}`;
}
