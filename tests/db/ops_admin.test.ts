/**
 * The ops primitives (migration 20261206000400_ops.sql) on a migrated scratch database: runtime accumulated from
 * observed machine states (split over UTC days, gaps and out-of-order observations), cost estimates from
 * the price table (and recomputed when a price changes), retry and hold with their actor events.
 */
import { applyTierChanges } from "../_support/tier_outbox.ts";
import type postgres from "postgres";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { createMigratedDatabase, createUsers } from "../_support/migrated_database.ts";

/** One observation as the sweep records it. */
const seen = (user_id: string, machine_id: string, state: string, observed_at: string) => ({
  user_id,
  machine_id,
  state,
  observed_at,
});

Deno.test("ops primitives", async (t) => {
  const db = await createMigratedDatabase();
  const { sql } = db;
  const record = async (observations: object[], maxGap = 600) => {
    const [{ count }] = await sql<{ count: number }[]>`
      select private.record_machine_observations(${
      sql.json(observations as postgres.JSONValue)
    }, ${maxGap}) as count`;
    return count;
  };
  const usage = async (userId: string) =>
    Object.fromEntries(
      (await sql<{ day: string; running_seconds: number }[]>`
        select day::text, running_seconds from public.user_fly_app_usage_daily
        where user_id = ${userId} order by day`).map((r) => [r.day, r.running_seconds]),
    );
  try {
    const [alice, bob, carol] = await createUsers(db, 3);

    await t.step("runtime: started intervals count, stopped ones and long gaps do not", async () => {
      assertEquals(
        await record([
          seen(alice, "m1", "started", "2026-11-01T10:00:00Z"),
          seen(alice, "m1", "started", "2026-11-01T10:05:00Z"),
          seen(bob, "m2", "stopped", "2026-11-01T10:00:00Z"),
        ]),
        3,
      );
      await record([
        seen(alice, "m1", "stopped", "2026-11-01T10:06:00Z"), // started -> stopped: the minute counts
        seen(bob, "m2", "started", "2026-11-01T10:05:00Z"), // stopped -> started: nothing yet
      ]);
      await record([
        seen(alice, "m1", "started", "2026-11-01T10:08:00Z"), // stopped before: nothing
        seen(bob, "m2", "started", "2026-11-01T12:00:00Z"), // a 2 h gap: unknown, not counted
      ]);
      assertEquals(await usage(alice), { "2026-11-01": 6 * 60 });
      assertEquals(await usage(bob), { "2026-11-01": 0 }, "observed, never counted as running");
    });

    await t.step("runtime: an interval across midnight is split over the two days", async () => {
      await record([seen(carol, "m3", "started", "2026-11-01T23:58:00Z")]);
      await record([seen(carol, "m3", "started", "2026-11-02T00:03:00Z")]);
      assertEquals(await usage(carol), { "2026-11-01": 120, "2026-11-02": 180 });
    });

    await t.step("runtime: repeated or older observations are ignored", async () => {
      const before = await usage(carol);
      assertEquals(await record([seen(carol, "m3", "started", "2026-11-02T00:03:00Z")]), 0);
      assertEquals(await record([seen(carol, "m3", "started", "2026-11-01T23:00:00Z")]), 0);
      assertEquals(await usage(carol), before);
    });

    await t.step("costs: plans and rows carry the estimate; a price change recomputes it", async () => {
      const plans = await sql<{ tier: string; cost: string | null }[]>`
        select tier, monthly_cost_estimate_usd::text as cost from public.fly_plans order by tier`;
      // pro and elite: 2 shared CPUs (each with 256 MB) and 512 MB: 2 x 1.94.
      assertEquals([...plans], [
        { tier: "elite", cost: "3.88" },
        { tier: "free", cost: "0.00" },
        { tier: "pro", cost: "3.88" },
      ]);
      await sql`insert into public.user_subscriptions (user_id, tier) values (${alice}, 'pro')`;
      await applyTierChanges(sql);
      // The size the engine records once the machine exists (a seed row has no cpu_kind: shared).
      await sql`update public.user_fly_apps set cpu_count = 2, memory_mb = 512 where user_id = ${alice}`;
      await sql`update public.fly_prices set monthly_usd = 2.50 where item = 'cpu_shared'`;
      const [row] = await sql`select monthly_cost_estimate_usd::text as cost from public.user_fly_apps
                              where user_id = ${alice}`;
      assertEquals(row.cost, "5.00");
      const [memory] = await sql`select private.machine_monthly_cost_usd('shared', 1, 1024)::text as cost`;
      assertEquals(memory.cost, "6.25", "2.50 + 768 MB at 5.00/GB");
    });

    await t.step("retry: clears the error, due now, one event naming the actor", async () => {
      await sql`update public.user_fly_apps set status = 'error', error_message = 'bad token',
                retry_count = 4, next_attempt_at = null where user_id = ${alice}`;
      const ids = await sql`select private.retry_user_fly_apps('ops:ann', p_statuses => array['error'])`;
      assertEquals(ids.length, 1);
      const [row] = await sql`select status, error_message, retry_count, next_attempt_at <= now() as due
                              from public.user_fly_apps where user_id = ${alice}`;
      assertEquals({ ...row }, { status: "pending", error_message: null, retry_count: 0, due: true });
      const [event] = await sql`select metadata from public.user_fly_app_events
                                where user_id = ${alice} and event_type = 'retry_requested'`;
      assertEquals(event.metadata.actor, "ops:ann");
      await assertRejects(() => sql`select private.retry_user_fly_apps('ops')`, Error, "exactly one");
    });

    await t.step("hold: set and release with the actor; refused without a row", async () => {
      const [{ row }] =
        await sql`select private.set_user_fly_app_hold(${alice}, true, 'ops:ann', 'abuse') as row`;
      assert(row.held_at, "held_at set");
      assertEquals([row.held_by, row.hold_reason], ["ops:ann", "abuse"]);
      const [{ row: released }] = await sql`
        select private.set_user_fly_app_hold(${alice}, false, 'ops:bo', null) as row`;
      assertEquals([released.held_at, released.held_by], [null, null]);
      const events = await sql`select event_type, metadata->>'actor' as actor from public.user_fly_app_events
                               where user_id = ${alice} and event_type like 'hold_%' order by seq`;
      assertEquals(events.map((e) => `${e.event_type}:${e.actor}`), [
        "hold_set:ops:ann",
        "hold_released:ops:bo",
      ]);
      await assertRejects(
        () => sql`select private.set_user_fly_app_hold(${bob}, true, 'ops', null)`,
        Error,
        "no app row",
      );
    });
  } finally {
    await db.drop();
  }
});
