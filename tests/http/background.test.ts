import { assert, assertEquals } from "../_support/assert.ts";
import { backgroundTasksSettled, runInBackground } from "../../supabase/functions/_shared/http/background.ts";
import { createLogger } from "../../supabase/functions/_shared/log.ts";

/** A logger whose lines land in the returned array. */
function captured() {
  const lines: string[] = [];
  return { lines, log: createLogger({ secrets: ["bg-secret-value"], sink: (line) => lines.push(line) }) };
}

Deno.test("background (plain Deno): work runs after the caller returns; a failure is logged, redacted", async () => {
  const { lines, log } = captured();
  let done = false;
  runInBackground("ok-task", new Promise((resolve) => setTimeout(resolve, 10)).then(() => done = true), log);
  runInBackground("bad-task", Promise.reject(new Error("boom bg-secret-value")), log);
  assertEquals(done, false);
  await backgroundTasksSettled();
  assertEquals(done, true);
  assertEquals(lines.length, 1);
  const entry = JSON.parse(lines[0]);
  assertEquals([entry.msg, entry.task, entry.error.message], [
    "background task failed",
    "bad-task",
    "boom [REDACTED]",
  ]);
});

Deno.test("background (edge runtime): work goes to EdgeRuntime.waitUntil, guarded against rejection", async () => {
  const handed: Promise<unknown>[] = [];
  Object.defineProperty(globalThis, "EdgeRuntime", {
    value: { waitUntil: (p: Promise<unknown>) => handed.push(p) },
    configurable: true,
  });
  try {
    const { lines, log } = captured();
    runInBackground("edge-task", Promise.reject(new Error("edge failure")), log);
    assertEquals(handed.length, 1);
    await handed[0]; // resolves even though the work rejected
    assertEquals(JSON.parse(lines[0]).task, "edge-task");
    await backgroundTasksSettled(); // nothing tracked locally under the edge runtime
    assert(lines.length === 1);
  } finally {
    delete (globalThis as { EdgeRuntime?: unknown }).EdgeRuntime;
  }
});
