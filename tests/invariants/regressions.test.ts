/**
 * The three sequences of issue 19 as deterministic regression tests, through the whole local stack with the
 * project's default settings:
 *
 * 1. a reconcile that reads a tier change the drainer has not recorded yet must not record it under the
 *    row's older generation (a free user kept a paid app, and the row said converged);
 * 2. a tier change between paid tiers of different sizes reaches the machine in the same reconcile
 *    (`plan_applied`), in both directions;
 * 3. once a downgrade completed, the sweeps leave the user alone: no health, repair or deprovision event
 *    after `deprovision_completed` (also for a bulk downgrade of 100 users over 5 sweeps).
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { liveMachines, type Stack, startStack } from "../e2e/_support.ts";
import { settleAll, sizeOf } from "./_support.ts";

/** Events that must not follow a user's `deprovision_completed` while nothing changes. */
const QUIET_AFTER_DELETE = [
  "health_changed",
  "repaired",
  "deprovision_started",
  "deprovision_completed",
  "deprovision_progressing",
  "provision_started",
  "drift_changed",
  "state_contradiction",
];

/** Event types after the user's last `deprovision_completed` among those that must stay quiet. */
async function noiseAfterDelete(stack: Stack, user: string): Promise<string[]> {
  const events = await stack.events(user);
  const last = events.findLastIndex((e) => e.event_type === "deprovision_completed");
  assert(last >= 0, `user ${user} has no deprovision_completed`);
  return events.slice(last + 1).map((e) => e.event_type).filter((t) => QUIET_AFTER_DELETE.includes(t));
}

Deno.test("issue 19: the three sequences hold", async (t) => {
  const stack = await startStack();
  try {
    await t.step("1. a reconcile never records a desired state the drainer did not record", async () => {
      const [user] = await stack.newUsers(1);
      await stack.setTier(user, "pro");
      await stack.waitSettled(user);
      // The drainer takes the downgrade (generation 2, absent) but its kick is lost.
      await stack.sql.begin(async (tx) => {
        await tx`update public.user_subscriptions set tier = 'free' where user_id = ${user}`;
        await tx`select private.drain_tier_outbox(1000, false)`;
      });
      // While no drainer can run (its lock is held), the user upgrades again and an ops call reconciles.
      const lock = await stack.sql.reserve();
      try {
        await lock`select pg_advisory_lock(hashtext('private.drain_tier_outbox'))`;
        await stack.sql`update public.user_subscriptions set tier = 'pro' where user_id = ${user}`;
        const answer = await stack.call("provision-user-fly-app", { body: { user_id: user }, wait: true });
        assert(answer.status < 500, JSON.stringify(answer.body));
        // Then the subscription goes away; the drainer sees both changes at once.
        await stack.sql`delete from public.user_subscriptions where user_id = ${user}`;
        await lock`select pg_advisory_unlock(hashtext('private.drain_tier_outbox'))`;
      } finally {
        lock.release();
      }
      await settleAll(stack, [user]);
      const row = (await stack.row(user))!;
      assertEquals([row.desired_state, row.status], ["absent", "deleted"]);
      const apps = await stack.appsOf(user);
      assertEquals(apps.flatMap(liveMachines), [], "no machine of a free user lives on Fly");
      const outcomes = (await stack.events(user)).filter((e) => e.event_type.endsWith("_completed"));
      assertEquals(outcomes.at(-1)?.event_type, "deprovision_completed");
    });

    await t.step("2. a tier change between paid tiers applies the new plan at once", async () => {
      await stack.sql`update public.fly_plans set cpu_kind = 'performance', cpus = 1, memory_mb = 2048
                      where tier = 'elite'`;
      const [up, down] = await stack.newUsers(2);
      await stack.setTier(up, "pro");
      await stack.setTier(down, "elite");
      await stack.waitSettled(up);
      await stack.waitSettled(down);
      assertEquals(await sizeOf(stack, up), ["shared", 2, 512]);
      assertEquals(await sizeOf(stack, down), ["performance", 1, 2048]);

      await stack.setTier(up, "elite");
      await stack.setTier(down, "pro");
      await stack.waitSettled(up, 30_000);
      await stack.waitSettled(down, 30_000);
      assertEquals(await sizeOf(stack, up), ["performance", 1, 2048], "the upgraded user runs elite's size");
      assertEquals(await sizeOf(stack, down), ["shared", 2, 512], "the downgraded user runs pro's size");
      for (const [user, from, to] of [[up, "pro", "elite"], [down, "elite", "pro"]]) {
        const applied = (await stack.events(user)).filter((e) => e.event_type === "plan_applied");
        assertEquals(applied.length, 1, `one plan_applied for ${user}`);
        assertEquals([applied[0].metadata.from_tier, applied[0].metadata.to_tier], [from, to]);
        const row = (await stack.row(user))!;
        const [cpuKind, cpus, memoryMb] = await sizeOf(stack, user);
        assertEquals([row.status, row.cpu_kind, row.cpu_count, row.memory_mb], [
          "active",
          cpuKind,
          cpus,
          memoryMb,
        ]);
      }
    });

    await t.step("3. a completed downgrade stays quiet through 5 sweeps", async () => {
      const users = await stack.newUsers(100);
      await stack.sql`insert into public.user_subscriptions (user_id, tier)
                      select unnest(${users}::uuid[]), 'pro'`;
      await settleAll(stack, users, 300_000);
      await stack.sweep(); // a first (full) listing: later sweeps list incrementally, destroyed machines included
      await stack
        .sql`update public.user_subscriptions set tier = 'free' where user_id = any(${users}::uuid[])`;
      await settleAll(stack, users, 300_000);
      for (const user of users) assertEquals((await stack.row(user))?.status, "deleted");
      for (let i = 0; i < 5; i++) await stack.sweep();
      const noisy: string[] = [];
      for (const user of users) {
        const noise = await noiseAfterDelete(stack, user);
        if (noise.length > 0) noisy.push(`${user}: ${noise.join(", ")}`);
      }
      assertEquals(noisy, [], "events after deprovision_completed");
    });
  } finally {
    await stack.stop();
  }
});
