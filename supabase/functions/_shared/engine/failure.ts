/**
 * What an attempt that did not converge means, in controller-runtime's terms: `progressing` (Fly is not
 * there yet, or the caller's time ran out: requeue soon, not a failure), `failed` (retryable: back off and
 * try again) or `terminal` (permanent: needs a human). The message is fit for the row, the events and an
 * alert (no secret can be in it: Fly errors never carry the token, and nothing else here sees a secret value).
 *
 * @module
 */
import { FlyApiError, FlyError, FlyResponseFormatError } from "../fly/mod.ts";

/** Default pause before the next attempt of a reconcile that is still progressing, in ms. */
export const DEFAULT_REQUEUE_MS = 5_000;

/**
 * Fly is not yet where a step needs it (an app not visible yet, a machine still booting, a name being
 * released): the attempt is progressing, and the next one goes on after `requeueAfterMs`.
 */
export class RetryLaterError extends Error {
  /** Says what is not ready yet, and when to look again. */
  constructor(message: string, readonly requeueAfterMs: number = DEFAULT_REQUEUE_MS) {
    super(message);
    this.name = new.target.name;
  }
}

/** The caller's time budget ran out mid-step: progressing, the next attempt resumes where this one stopped. */
export class DeadlineExceededError extends RetryLaterError {
  /** Describes what was still being waited for. */
  constructor(waitingFor: string) {
    super(`time budget exhausted while waiting for ${waitingFor}`, 1_000);
  }
}

/** The machine went down again after this attempt started it: a real failure (backoff, then an alert). */
export class MachineDownError extends Error {
  /** Names the machine and the state it fell into. */
  constructor(message: string) {
    super(message);
    this.name = "MachineDownError";
  }
}

/**
 * Every app name tried is held by a stranger: retryable (backoff, then an alert after ALERT_AFTER_FAILURES),
 * never a permanent error, since a squatter must not be able to end a paying user's service.
 */
export class AppNameTakenError extends Error {
  /** Names what was taken and what to look at. */
  constructor(message: string) {
    super(message);
    this.name = "AppNameTakenError";
  }
}

/** Another reconciler took the row over (the lease heartbeat failed, or the database refused our write). */
export class LeaseLostError extends Error {
  /** Says which lease. */
  constructor(message = "the row's lease was lost to another reconciler") {
    super(message);
    this.name = "LeaseLostError";
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

/** Our lease is gone (heartbeat failed, or the database said so): another reconciler owns the row. */
export function isLeaseLost(error: unknown): boolean {
  if (error instanceof LeaseLostError) return true;
  return (error as { code?: string })?.code === "55000" &&
    String((error as Error).message).startsWith("lease_not_held");
}

/** An attempt that did not converge, classified. */
export type Failure =
  | { outcome: "progressing"; kind: string; message: string; requeueAfterMs: number }
  | { outcome: "failed" | "terminal"; kind: string; message: string };

/** `failed` when Fly says to try again, `terminal` otherwise. */
function retryableOr(retryable: boolean): "failed" | "terminal" {
  return retryable ? "failed" : "terminal";
}

/** Classifies an error thrown while converging one user's app (lease loss is not classified: check first). */
export function classifyFailure(error: unknown): Failure {
  if (error instanceof RetryLaterError) {
    return {
      outcome: "progressing",
      kind: error instanceof DeadlineExceededError ? "deadline" : "not_ready",
      message: error.message,
      requeueAfterMs: error.requeueAfterMs,
    };
  }
  if (error instanceof MachineDownError) {
    return { outcome: "failed", kind: "machine_down", message: error.message };
  }
  if (error instanceof AppNameTakenError) {
    return { outcome: "failed", kind: "app_name_taken", message: error.message };
  }
  if (error instanceof PermanentReconcileError) {
    return { outcome: "terminal", kind: "refused", message: error.message };
  }
  if (error instanceof FlyApiError) {
    const kind = error.status === 401 || error.status === 403 ? "fly_auth" : `fly_${error.code}`;
    const hint = error.status === 401 || error.status === 403
      ? " (check FLY_API_TOKEN and FLY_ORG_SLUG)"
      : error.status === 400 || error.status === 422
      ? " (invalid request: check the plan and FLY_APP_IMAGE)"
      : "";
    return { outcome: retryableOr(error.retryable), kind, message: `${error.message}${hint}` };
  }
  if (error instanceof FlyResponseFormatError) {
    return { outcome: "terminal", kind: "fly_response_format", message: error.message };
  }
  if (error instanceof FlyError) {
    return { outcome: retryableOr(error.retryable), kind: "fly_network", message: error.message };
  }
  // Database hiccups and anything unforeseen: try again later rather than give up on a paying user.
  return {
    outcome: "failed",
    kind: "internal",
    message: `internal error: ${(error as Error)?.message ?? error}`,
  };
}
