/**
 * A user's lease moving between function instances: a reconciler in another instance starts the app's
 * in-process buckets cold, so the client limits hold across the hand-over (no 429 from the emulator, which
 * enforces Fly's documented limits); the instance that let go itself keeps its warm buckets.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { withEngine } from "../_support/engine_fixture.ts";
import { createFlyClient, PER_IDENTIFIER_REFILL_MS } from "../../supabase/functions/_shared/fly/mod.ts";
import type { UserFlyApp } from "../../supabase/functions/_shared/db/user_fly_apps.ts";
import type { EngineDeps } from "../../supabase/functions/_shared/engine/context.ts";
import { reconcileUser } from "../../supabase/functions/_shared/controller/controller.ts";
import {
  rememberLeaseOwner,
  takeoverColdSince,
} from "../../supabase/functions/_shared/controller/takeover.ts";

const TAKEOVER_LOG = "lease taken over from another instance";

/** A row as the takeover reads it: only the two lease stamps matter. */
function released(at: number | null, by: string | null): UserFlyApp {
  return {
    lease_released_at: at === null ? null : new Date(at).toISOString(),
    lease_released_by: by,
  } as UserFlyApp;
}

Deno.test("takeoverColdSince: another instance's recent release starts the buckets cold; own or old releases do not", () => {
  const fly = createFlyClient({ token: "t", baseUrl: "http://127.0.0.1:9" });
  const other = createFlyClient({ token: "t", baseUrl: "http://127.0.0.1:9" });
  rememberLeaseOwner(fly, "mine");
  rememberLeaseOwner(other, "theirs");
  const now = Date.parse("2026-11-30T10:00:00Z");
  assertEquals(takeoverColdSince(fly, released(null, null), now), undefined, "never leased");
  assertEquals(
    takeoverColdSince(fly, released(now - 500, "mine"), now),
    undefined,
    "let go by this instance",
  );
  assertEquals(
    takeoverColdSince(fly, released(now - 1_000, "theirs"), now),
    now - 1_000,
    "by another, 1 s ago",
  );
  assertEquals(
    takeoverColdSince(fly, released(now - 1_000, "unknown owner"), now),
    now - 1_000,
    "an owner this instance never ran counts as another instance",
  );
  assertEquals(
    takeoverColdSince(fly, released(now - PER_IDENTIFIER_REFILL_MS, "theirs"), now),
    undefined,
    "Fly has refilled",
  );
  assertEquals(
    takeoverColdSince(fly, released(now + 60_000, "theirs"), now),
    now,
    "a database clock ahead holds calls back no further than now",
  );
  assertEquals(PER_IDENTIFIER_REFILL_MS, 3_000, "1 request/s with bursts of 3 is the slowest refill");
});

Deno.test("a second instance that takes a user over right after a reconcile starts its per-app buckets cold: no 429", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    const makeDue = () =>
      f.db.sql`update public.user_fly_apps set next_attempt_at = now() where user_id = ${user}`;
    const takeovers = () => f.logs.filter((line) => line.includes(TAKEOVER_LOG)).length;
    const limited = () =>
      Object.entries(f.emulator.requestCounts()).filter(([, byStatus]) => byStatus["429"]);
    assertEquals((await f.reconcile(user)).outcome, "converged");
    // Again at once from the same instance: warm buckets (its limiter paces it). This re-check of an existing app
    // lists its machines twice (ownership, then the machine step), as a sweep's or a later hop's would.
    await makeDue();
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals(takeovers(), 0, "an owner this instance ran leaves the buckets warm");
    const first = await f.row(user);
    assert(first.lease_released_at, "the release was stamped");
    assert(first.lease_released_by?.startsWith("test:"), String(first.lease_released_by));

    // At once from another instance: its own Fly client and limiter, so full buckets for this app.
    const other: EngineDeps = {
      ...f.deps,
      fly: createFlyClient({ token: f.emulator.token, baseUrl: f.emulator.url, retry: { baseDelayMs: 20 } }),
    };
    await makeDue();
    const result = await reconcileUser(other, {
      userId: user,
      owner: `other:${crypto.randomUUID()}`,
      deadline: Date.now() + 20_000,
      reason: "test",
    });
    assertEquals(result.outcome, "converged");
    assertEquals(limited(), [], "no request was rate limited");
    assertEquals(takeovers(), 1, "the cold start is logged");

    // Back to the first instance, which never ran the other owner: it starts cold too.
    await makeDue();
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals(takeovers(), 2, "back from the other instance");
    assertEquals(limited(), [], "still no 429");
  });
});

Deno.test("a batch kick skips a user another reconciler has settled; a due user is reconciled", async () => {
  await withEngine(async (f) => {
    const [settled, due] = await f.subscribe("pro", 2);
    assertEquals((await f.reconcile(settled)).outcome, "converged");
    const current = (userId: string) =>
      reconcileUser(f.deps, {
        userId,
        owner: `batch:${crypto.randomUUID()}`,
        deadline: Date.now() + 20_000,
        reason: "kick",
        generation: "current",
      });
    const before = f.emulator.requestCounts();
    assertEquals((await current(settled)).outcome, "up_to_date");
    assertEquals(f.emulator.requestCounts(), before, "no Fly call for a settled user");
    assertEquals((await current(due)).outcome, "converged");
  });
});
