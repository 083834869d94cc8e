/**
 * `workerShutdownSignal`: aborted by the runtime's `beforeunload` (with `detail.reason`, as the edge runtime
 * and the local gateway's workers dispatch it), the same signal for every caller in the worker.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import {
  WorkerShutdownError,
  workerShutdownSignal,
} from "../../supabase/functions/_shared/http/worker_shutdown.ts";

Deno.test("workerShutdownSignal: aborted by beforeunload with the runtime's reason, shared by every caller", () => {
  const signal = workerShutdownSignal();
  assertEquals(signal.aborted, false);
  assert(workerShutdownSignal() === signal, "one signal per worker");
  globalThis.dispatchEvent(
    new CustomEvent("beforeunload", { cancelable: true, detail: { reason: "wall_clock" } }),
  );
  assertEquals(signal.aborted, true);
  assert(signal.reason instanceof WorkerShutdownError);
  assertEquals(signal.reason.reason, "wall_clock");
});
