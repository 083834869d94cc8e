/**
 * Stand-in for the `EdgeRuntime` global of Supabase's edge runtime, limited to what the product uses:
 * `EdgeRuntime.waitUntil(promise)`. The gateway installs it so background work is tracked and awaited
 * before the process exits, as the hosted runtime keeps an instance alive for pending waitUntil promises.
 */

/** Handle on the installed stand-in. */
export interface EdgeRuntimeStandIn {
  /** Number of waitUntil promises still pending. */
  pending(): number;
  /** Resolves when every pending promise settled, or after `timeoutMs`. */
  settle(timeoutMs: number): Promise<void>;
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
  };
}
