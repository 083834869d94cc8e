/** The one backoff primitive: the three jitters, the cap, and the poll and retry loops built on it. */
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import {
  BACKOFF,
  type Backoff,
  backoffDelayMs,
  pollUntil,
  reconcileRetryBackoff,
  retryWhile,
} from "../../supabase/functions/_shared/backoff.ts";
import {
  DEFAULT_RETRY_OPTIONS,
  requestRetryDelayMs,
} from "../../supabase/functions/_shared/fly/retry_policy.ts";

Deno.test("backoff: full jitter over min(max, base * 2^n), capped (the reconcile retry schedule)", () => {
  const policy = reconcileRetryBackoff({ baseMs: 10_000, maxMs: 300_000 });
  assertEquals(backoffDelayMs(policy, 0, () => 0.999), 9_990);
  assertEquals(backoffDelayMs(policy, 3, () => 0.5), 40_000);
  assertEquals(backoffDelayMs(policy, 30, () => 0.999), 299_700, "capped at the maximum");
  assertEquals(backoffDelayMs(policy, 1_000, () => 0.999), 299_700, "a huge attempt number stays finite");
  assertEquals(backoffDelayMs(policy, 5, () => 0), 0);
});

Deno.test("backoff: equal jitter keeps half of the step (the Fly request retries), none is the step", () => {
  assertEquals(requestRetryDelayMs(0, DEFAULT_RETRY_OPTIONS, () => 0), 100);
  assertEquals(requestRetryDelayMs(2, DEFAULT_RETRY_OPTIONS, () => 0.999), 800);
  assertEquals(requestRetryDelayMs(10, DEFAULT_RETRY_OPTIONS, () => 0), 2_500, "half of the 5 s cap");
  const none: Backoff = { baseMs: 250, maxMs: 2_000, jitter: "none" };
  assertEquals([0, 1, 2, 3, 4].map((n) => backoffDelayMs(none, n)), [250, 500, 1_000, 2_000, 2_000]);
});

Deno.test("backoff: every named policy grows from its base to its cap", () => {
  for (const [name, policy] of Object.entries(BACKOFF)) {
    assert(policy.baseMs > 0 && policy.baseMs <= policy.maxMs, name);
    assert(backoffDelayMs(policy, 50, () => 0.999) <= policy.maxMs, name);
  }
});

Deno.test("pollUntil: waits the policy's steps between looks and returns the settling value", async () => {
  const waits: number[] = [];
  const result = await pollUntil({
    policy: { baseMs: 10, maxMs: 40, jitter: "none" },
    attempt: (n) => Promise.resolve(n),
    settled: (n) => n === 4,
    wait: (ms) => Promise.resolve(void waits.push(ms)),
  });
  assertEquals(result, { settled: true, value: 4 });
  assertEquals(waits, [10, 20, 40, 40]);
});

Deno.test("pollUntil: a wait that would reach the deadline ends the poll unsettled, with the last value", async () => {
  let looks = 0;
  const result = await pollUntil({
    policy: { baseMs: 1_000, maxMs: 1_000, jitter: "none" },
    attempt: () => Promise.resolve(++looks),
    settled: () => false,
    deadline: Date.now() + 500,
  });
  assertEquals(result, { settled: false, value: 1 });
  const limited = await pollUntil({
    policy: { baseMs: 1, maxMs: 1, jitter: "none" },
    attempt: (n) => Promise.resolve(n),
    settled: () => false,
    maxAttempts: 3,
  });
  assertEquals(limited, { settled: false, value: 2 }, "three looks at most");
});

Deno.test("retryWhile: repeats after retryable errors only", async () => {
  let calls = 0;
  const value = await retryWhile(() => {
    calls++;
    return calls < 3 ? Promise.reject(new RangeError("not yet")) : Promise.resolve("done");
  }, { policy: { baseMs: 1, maxMs: 1, jitter: "none" }, retryable: (e) => e instanceof RangeError });
  assertEquals([value, calls], ["done", 3]);
  await assertRejects(
    () =>
      retryWhile(() => Promise.reject(new TypeError("fatal")), {
        policy: BACKOFF.flyRace,
        retryable: (e) => e instanceof RangeError,
      }),
    TypeError,
    "fatal",
  );
});
