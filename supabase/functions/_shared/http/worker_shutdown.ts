/**
 * The worker's own end of life: the edge runtime dispatches `beforeunload` on `globalThis` shortly before it
 * ends a worker (`detail.reason`: `wall_clock` at 90 % of the wall clock, `termination`, `early_drop`, ...;
 * Supabase docs "background tasks"). Long work watches {@link workerShutdownSignal} to stop taking new items
 * and hand the rest on while the worker can still send a request.
 *
 * @module
 */

/** Aborted (once) by the first `beforeunload` this worker receives; created on first use. */
let shutdown: AbortController | undefined;

/** Why the runtime is ending the worker, from a `beforeunload` event (`unknown` when it says nothing). */
function unloadReason(event: Event): string {
  const detail = (event as CustomEvent<{ reason?: unknown } | undefined>).detail;
  return typeof detail?.reason === "string" ? detail.reason : "unknown";
}

/**
 * A signal aborted when the runtime announces that it is about to end this worker (`beforeunload`); its
 * `reason` is a {@link WorkerShutdownError}. The same signal for every caller in the worker.
 */
export function workerShutdownSignal(): AbortSignal {
  if (!shutdown) {
    const controller = new AbortController();
    globalThis.addEventListener("beforeunload", (event) => {
      controller.abort(new WorkerShutdownError(unloadReason(event)));
    }, { once: true });
    shutdown = controller;
  }
  return shutdown.signal;
}

/** The reason of an aborted {@link workerShutdownSignal}. */
export class WorkerShutdownError extends Error {
  /** The runtime's `detail.reason` (`wall_clock`, `termination`, ...). */
  readonly reason: string;

  /** An error for the `beforeunload` reason given. */
  constructor(reason: string) {
    super(`the runtime is ending this worker (${reason})`);
    this.name = "WorkerShutdownError";
    this.reason = reason;
  }
}
