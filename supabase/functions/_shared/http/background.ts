/**
 * Background work that outlives the response.
 *
 * Under Supabase's edge runtime the promise goes to `EdgeRuntime.waitUntil`, which keeps the instance alive
 * until it settles (work not handed over may be dropped once the response is sent). Under plain Deno there is
 * no such global: the promise is kept referenced until it settles. Either way a failure is logged.
 *
 * @module
 */
import type { Logger } from "../log.ts";

/** The part of Supabase's `EdgeRuntime` global used here. */
interface EdgeRuntimeLike {
  waitUntil(promise: Promise<unknown>): unknown;
}

/** Work started under plain Deno that has not settled yet. */
const pending = new Set<Promise<void>>();

/** The edge runtime's global, when running under it. */
function edgeRuntime(): EdgeRuntimeLike | undefined {
  return (globalThis as { EdgeRuntime?: EdgeRuntimeLike }).EdgeRuntime;
}

/**
 * Let `work` finish after the response: hand it to `EdgeRuntime.waitUntil` when that exists, else keep it
 * referenced until it settles. A rejection is logged as `background task failed` with `task`, never thrown.
 */
export function runInBackground(task: string, work: Promise<unknown>, log: Logger): void {
  const guarded = work.then(
    () => {},
    (error: unknown) => log.error("background task failed", { task, error }),
  );
  const runtime = edgeRuntime();
  if (runtime) {
    runtime.waitUntil(guarded);
    return;
  }
  pending.add(guarded);
  guarded.finally(() => pending.delete(guarded));
}

/** Resolves once every background task started under plain Deno has settled (graceful shutdown, tests). */
export async function backgroundTasksSettled(): Promise<void> {
  while (pending.size > 0) await Promise.all([...pending]);
}
