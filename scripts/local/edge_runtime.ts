/**
 * Stand-in for the `EdgeRuntime` global of Supabase's edge runtime inside one worker process, limited to what
 * the product uses: `EdgeRuntime.waitUntil(promise)`, plus the `beforeunload` event the runtime dispatches
 * on `globalThis` before it ends a worker (a `CustomEvent` whose `detail.reason` is `wall_clock`,
 * `early_drop`, `termination`, ...; upstream `ext/runtime/js/bootstrap.js` `dispatchBeforeUnloadEvent`).
 */

/** Hosted wall clock of a worker: 150 s on the free plan (the default here), 400 s on paid plans. */
export const DEFAULT_WALL_CLOCK_MS = 150_000;
/** The longest wall clock a hosted worker gets (paid plans). */
export const MAX_WALL_CLOCK_MS = 400_000;
/** Worker processes per function the local gateway runs by default (hosted runs several isolates). */
export const DEFAULT_WORKERS = 4;

/** Why the runtime is about to end a worker (upstream `WillTerminateReason`, snake_case). */
export type BeforeUnloadReason = "cpu" | "memory" | "wall_clock" | "early_drop" | "termination";

/** Handle on the installed stand-in. */
export interface EdgeRuntimeStandIn {
  /** Number of waitUntil promises still pending. */
  pending(): number;
  /** Resolves when every pending promise settled, or after `timeoutMs`. */
  settle(timeoutMs: number): Promise<void>;
  /** Dispatches `beforeunload` with `detail.reason` on `globalThis`, as the runtime does before ending a worker. */
  dispatchBeforeUnload(reason: BeforeUnloadReason): void;
}

/** Installs `globalThis.EdgeRuntime` with a tracking `waitUntil`. */
export function installEdgeRuntimeStandIn(): EdgeRuntimeStandIn {
  const inFlight = new Set<Promise<unknown>>();
  const waitUntil = (promise: Promise<unknown>) => {
    const tracked = Promise.resolve(promise).catch(() => {}).finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    return promise;
  };
  Object.defineProperty(globalThis, "EdgeRuntime", { value: { waitUntil }, configurable: true });
  return {
    pending: () => inFlight.size,
    async settle(timeoutMs: number) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
      await Promise.race([Promise.allSettled([...inFlight]), deadline]);
      clearTimeout(timer);
    },
    dispatchBeforeUnload(reason) {
      globalThis.dispatchEvent(new CustomEvent("beforeunload", { cancelable: true, detail: { reason } }));
    },
  };
}
