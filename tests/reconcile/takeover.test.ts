/**
 * A user's lease moving between function instances: a reconciler in another instance lets Fly's per-app
 * buckets refill before its first call, so the client limits hold across the hand-over (no 429 from the
 * emulator, which enforces Fly's documented limits); the instance that let go itself goes on at once.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { withEngine } from "./_engine_fixture.ts";
import { createFlyClient, PER_IDENTIFIER_REFILL_MS } from "../../supabase/functions/_shared/fly/mod.ts";
import type { UserFlyApp } from "../../supabase/functions/_shared/db/user_fly_apps.ts";
import type { EngineDeps } from "../../supabase/functions/_shared/reconcile/context.ts";
import { reconcileUser } from "../../supabase/functions/_shared/reconcile/controller.ts";
import {
  rememberLeaseOwner,
  takeoverQuietUntil,
} from "../../supabase/functions/_shared/reconcile/takeover.ts";

const TAKEOVER_LOG = "lease taken over from another instance";

/** A row as the pause reads it: only the two lease stamps matter. */
function released(at: number | null, by: string | null): UserFlyApp {
  return {
    lease_released_at: at === null ? null : new Date(at).toISOString(),
    lease_released_by: by,
  } as UserFlyApp;
}

Deno.test("takeoverQuietUntil: another instance's recent release pauses until Fly refills; own or old releases do not", () => {
  const fly = createFlyClient({ token: "t", baseUrl: "http://127.0.0.1:9" });
  const other = createFlyClient({ token: "t", baseUrl: "http://127.0.0.1:9" });
  rememberLeaseOwner(fly, "mine");
  rememberLeaseOwner(other, "theirs");
  const now = Date.parse("2026-11-30T10:00:00Z");
  assertEquals(takeoverQuietUntil(fly, released(null, null), now), 0, "never leased");
  assertEquals(takeoverQuietUntil(fly, released(now - 500, "mine"), now), 0, "let go by this instance");
  assertEquals(
    takeoverQuietUntil(fly, released(now - 1_000, "theirs"), now),
    now - 1_000 + PER_IDENTIFIER_REFILL_MS,
    "let go by another instance a second ago",
  );
  assertEquals(
    takeoverQuietUntil(fly, released(now - 1_000, "unknown owner"), now),
    now - 1_000 + PER_IDENTIFIER_REFILL_MS,
    "an owner this instance never ran counts as another instance",
  );
  assertEquals(
    takeoverQuietUntil(fly, released(now - PER_IDENTIFIER_REFILL_MS, "theirs"), now),
    0,
    "refilled",
  );
  assertEquals(
    takeoverQuietUntil(fly, released(now + 60_000, "theirs"), now),
    now + PER_IDENTIFIER_REFILL_MS,
    "a database clock ahead never stretches the pause past one refill period",
  );
  assertEquals(PER_IDENTIFIER_REFILL_MS, 3_000, "1 request/s with bursts of 3 is the slowest refill");
});

Deno.test("a second instance that takes a user over right after a reconcile waits for Fly's per-app limits: no 429", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    const makeDue = () =>
      f.db.sql`update public.user_fly_apps set next_attempt_at = now() where user_id = ${user}`;
    const takeovers = () => f.logs.filter((line) => line.includes(TAKEOVER_LOG)).length;
    const limited = () =>
      Object.entries(f.emulator.requestCounts()).filter(([, byStatus]) => byStatus["429"]);
    assertEquals((await f.reconcile(user)).outcome, "converged");
    // Again at once from the same instance: no pause (its limiter paces it). This re-check of an existing app
    // lists its machines twice (ownership, then the machine step), as a sweep's or a later hop's would.
    await makeDue();
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals(takeovers(), 0, "an owner this instance ran needs no pause");
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
    const refilledAt = Date.parse(first.lease_released_at!) + PER_IDENTIFIER_REFILL_MS;
    assert(Date.now() >= refilledAt - 50, "the takeover paused until Fly had refilled");
    assertEquals(takeovers(), 1, "the pause is logged");

    // Back to the first instance, which never ran the other owner: it pauses too.
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
