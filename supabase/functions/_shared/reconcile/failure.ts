/**
 * What a failed reconcile means: retryable (back off and try again) or permanent (needs a human), with a
 * message fit for the row, the events and an alert (no secret can be in it: Fly errors never carry the
 * token, and nothing else here sees a secret value).
 *
 * @module
 */
import { FlyApiError, FlyError, FlyResponseFormatError } from "../fly/mod.ts";

/** Fly is not yet where a step needs it (e.g. a name still being released); the next attempt goes on. */
export class RetryLaterError extends Error {
  /** Says what is not ready yet. */
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A reconcile step ran out of its time budget; the next attempt resumes where it stopped. */
export class DeadlineExceededError extends RetryLaterError {
  /** Describes what was still being waited for. */
  constructor(waitingFor: string) {
    super(`time budget exhausted while waiting for ${waitingFor}`);
  }
}

/** A state of Fly that this system refuses to act on by itself (e.g. the recorded app belongs to others). */
export class PermanentReconcileError extends Error {
  /** Explains what a human has to look at. */
  constructor(message: string) {
    super(message);
    this.name = "PermanentReconcileError";
  }
}

/** The database said our lease is gone: another reconciler owns the row now; record nothing. */
export function isLeaseLost(error: unknown): boolean {
  return (error as { code?: string })?.code === "55000" &&
    String((error as Error).message).startsWith("lease_not_held");
}

/** A classified failure. */
export interface Failure {
  retryable: boolean;
  message: string;
  /** Short machine-readable kind for events and metrics. */
  kind: string;
}

/** Classifies an error thrown while converging one user's app. */
export function classifyFailure(error: unknown): Failure {
  if (error instanceof RetryLaterError) {
    return {
      retryable: true,
      kind: error instanceof DeadlineExceededError ? "deadline" : "not_ready",
      message: error.message,
    };
  }
  if (error instanceof PermanentReconcileError) {
    return { retryable: false, kind: "refused", message: error.message };
  }
  if (error instanceof FlyApiError) {
    const kind = error.status === 401 || error.status === 403 ? "fly_auth" : `fly_${error.code}`;
    const hint = error.status === 401 || error.status === 403
      ? " (check FLY_API_TOKEN and FLY_ORG_SLUG)"
      : error.status === 400 || error.status === 422
      ? " (invalid request: check the plan and FLY_APP_IMAGE)"
      : "";
    return { retryable: error.retryable, kind, message: `${error.message}${hint}` };
  }
  if (error instanceof FlyResponseFormatError) {
    return { retryable: false, kind: "fly_response_format", message: error.message };
  }
  if (error instanceof FlyError) {
    return { retryable: error.retryable, kind: "fly_network", message: error.message };
  }
  // Database hiccups and anything unforeseen: try again later rather than give up on a paying user.
  return {
    retryable: true,
    kind: "internal",
    message: `internal error: ${(error as Error)?.message ?? error}`,
  };
}
