/**
 * The limiter's shared bucket store: org-wide buckets (app create, app delete) go through it and wait the time
 * it returns; other buckets stay in process; a failing store falls back to the instance's own bucket.
 */
import { FlyRateLimiter, type SharedBucketStore } from "../../supabase/functions/_shared/fly/limiter.ts";
import { rateKeyFor, type RateRule } from "../../supabase/functions/_shared/fly/rate_limits.ts";
import { assert, assertEquals } from "../_support/assert.ts";

/** A store that answers a fixed wait and records what it was asked. */
function recordingStore(waitMs: number | (() => never)) {
  const takes: { name: string; rule: RateRule; tokens: number }[] = [];
  const store: SharedBucketStore = {
    take(name, rule, tokens) {
      takes.push({ name, rule, tokens });
      return Promise.resolve(typeof waitMs === "number" ? waitMs : waitMs());
    },
  };
  return { store, takes };
}

Deno.test("limiter: an app create waits the time the shared store returns before it is sent", async () => {
  const { store, takes } = recordingStore(300);
  const limiter = new FlyRateLimiter({ maxConcurrency: 4, rateSafetyFactor: 1, sharedBuckets: store });
  const started = performance.now();
  const release = await limiter.acquire(rateKeyFor("Apps_create", "personal"));
  const waited = performance.now() - started;
  release();
  assert(waited >= 295, `released after ${waited.toFixed(0)} ms, before the 300 ms the store asked for`);
  assert(waited < 1_000, `released after ${waited.toFixed(0)} ms`);
  assertEquals(takes, [{
    name: "fly:Apps_create:personal",
    rule: { ratePerSecond: 1, burst: 3 },
    tokens: 1,
  }]);
});

Deno.test("limiter: app deletes share one store bucket; per-app and per-machine buckets never reach the store", async () => {
  const { store, takes } = recordingStore(0);
  const limiter = new FlyRateLimiter({ maxConcurrency: 4, rateSafetyFactor: 0.95, sharedBuckets: store });
  for (const [operation, identifier] of [["Apps_delete", "app-a"], ["Apps_delete", "app-b"]]) {
    (await limiter.acquire(rateKeyFor(operation, identifier)))();
  }
  for (
    const [operation, identifier] of [["Machines_show", "m1"], ["Machines_start", "m1"], ["Apps_show", "a"]]
  ) {
    (await limiter.acquire(rateKeyFor(operation, identifier)))();
  }
  assertEquals(takes.map((t) => t.name), ["fly:Apps_delete:*", "fly:Apps_delete:*"]);
  assertEquals(takes[0].rule, { ratePerSecond: (100 / 60) * 0.95, burst: 95 }, "scaled by the safety factor");
});

Deno.test("limiter: a configured app-create rule replaces the default and reaches the store", async () => {
  const { store, takes } = recordingStore(0);
  const limiter = new FlyRateLimiter({
    maxConcurrency: 4,
    rateSafetyFactor: 1,
    sharedBuckets: store,
    rules: { Apps_create: { ratePerSecond: 5, burst: 10 } },
  });
  (await limiter.acquire(rateKeyFor("Apps_create", "personal")))();
  assertEquals(takes[0].rule, { ratePerSecond: 5, burst: 10 });
});

Deno.test("limiter: a failing store falls back to the instance's own bucket and reports the error", async () => {
  const { store } = recordingStore(() => {
    throw new Error("connection refused");
  });
  const errors: string[] = [];
  const limiter = new FlyRateLimiter({
    maxConcurrency: 4,
    rateSafetyFactor: 1,
    sharedBuckets: store,
    onSharedBucketError: (error) => errors.push((error as Error).message),
  });
  const started = performance.now();
  for (let i = 0; i < 4; i++) (await limiter.acquire(rateKeyFor("Apps_create", "personal")))();
  const waited = performance.now() - started;
  assertEquals(errors.length, 4);
  assert(
    waited >= 950,
    `the 4th create of a local 1/s burst-3 bucket waits ~1 s, not ${waited.toFixed(0)} ms`,
  );
});

Deno.test("limiter: aborting while waiting on a shared reservation gives the concurrency slot back", async () => {
  const { store } = recordingStore(10_000);
  const limiter = new FlyRateLimiter({ maxConcurrency: 1, rateSafetyFactor: 1, sharedBuckets: store });
  const controller = new AbortController();
  const waiting = limiter.acquire(rateKeyFor("Apps_create", "personal"), { signal: controller.signal });
  setTimeout(() => controller.abort(new Error("cancelled")), 50);
  const outcome = await waiting.then(() => "acquired", (error) => (error as Error).message);
  assertEquals(outcome, "cancelled");
  const started = performance.now();
  (await limiter.acquire(rateKeyFor("Machines_show", "m1")))();
  assert(performance.now() - started < 500, "the only slot is free again");
});

Deno.test("limiter: a request cancelled while queued behind another takes no shared token", async () => {
  const { store, takes } = recordingStore(400);
  const limiter = new FlyRateLimiter({ maxConcurrency: 4, rateSafetyFactor: 1, sharedBuckets: store });
  const first = limiter.acquire(rateKeyFor("Apps_create", "personal"));
  const controller = new AbortController();
  const second = limiter.acquire(rateKeyFor("Apps_create", "personal"), { signal: controller.signal });
  controller.abort(new Error("budget spent"));
  assertEquals(await second.then(() => "acquired", (error) => (error as Error).message), "budget spent");
  (await first)();
  assertEquals(takes.length, 1, "only the first request reserved a token");
});
