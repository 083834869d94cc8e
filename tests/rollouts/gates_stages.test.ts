/**
 * Gates that end (measured from the start stored with the target, by whichever driver looks), what status
 * says while a rollout waits, percentage stages over stable buckets, named users and saved cohorts first, the
 * bake's failure-rate halt, and a 409 that names the active rollout. The fake fleet stands in for the
 * controller's apply.
 */
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { IMAGE_B, withRollouts } from "./_fixture.ts";
import { batchLine, targetLabel } from "../../supabase/functions/_shared/rollout/progress.ts";

const BROKEN = `${IMAGE_B}-broken`;

Deno.test("gate: a broken canary's gate ends health_timeout_s after its update, for a replacement driver too; only the canary touched; alert", async () => {
  await withRollouts(8, async ({ create, advance, get, fleet, webhook, repo, db }) => {
    fleet.openGates = true;
    fleet.push(BROKEN);
    const rollout = await create({
      target: { image: BROKEN },
      canary_count: 1,
      batch_size: 3,
      health_timeout_s: 2,
    });
    const [first] = await advance("driver-1");
    assertEquals([first.state, first.waiting, first.applied.gate], ["running", "gate", 1]);

    const status = (await repo.status(rollout.id))!;
    assertEquals(status.targets.length, 1, "one target in flight: the canary");
    const [canary] = status.targets;
    assert(canary.gate_started_at, "the gate's start is stored with the target");
    const label = targetLabel(canary);
    assert(/^gate \([12] s left; machine started, checks not passing: health\)$/.test(label), label);
    assertEquals(batchLine(status.batches[0], status.targets), "batch 0 (canary): 1 in gate");

    // More looks before the end change neither the start nor the attempts, and apply nothing again.
    const [second] = await advance("driver-1");
    assertEquals([second.state, second.waiting], ["running", "gate"]);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    // The first driver is gone; another one measures from the stored start and ends the gate.
    const [third] = await advance("driver-2");
    assertEquals([third.state, third.halted], ["halted", true]);
    const halted = await get(rollout.id);
    assert(
      halted.error?.startsWith(
        "1 of 1 canaries failed: health gate not passed within 2 s (machine started, checks not passing: health)",
      ),
      String(halted.error),
    );
    assertEquals(fleet.applied.length, 1, "the canary's update was applied once; nobody else touched");
    assertEquals(fleet.looks, 2, "later runs only looked");
    const [{ attempts }] = await db.sql<{ attempts: number }[]>`
      select attempts from public.fly_rollout_targets where rollout_id = ${rollout.id} and batch = 0`;
    assertEquals(attempts, 1, "looks at a gate are not attempts");
    assertEquals(webhook.requests.length, 1, "one alert");
    assertEquals(JSON.parse(webhook.requests[0].body).reason, "rollout_halted");
    const after = (await repo.status(rollout.id))!;
    assert(targetLabel(after.targets[0]).startsWith("failed (health gate not passed within 2 s"));
  });
});

Deno.test("stages 10,50,100 over 100 users: 10 first, then 50, then all; the same 10 first in a second rollout", async () => {
  await withRollouts(100, async ({ create, advance, get, fleet, repo, db }) => {
    const firstTen: string[][] = [];
    for (const image of [IMAGE_B, `${IMAGE_B}-2`]) {
      fleet.push(image);
      const from = fleet.applied.length;
      const rollout = await create({ target: { image }, stages: [10, 50, 100] });
      const stages = await db.sql<{ stage: string; n: number; batches: number }[]>`
        select stage, count(*)::int as n, count(distinct batch)::int as batches
        from public.fly_rollout_targets where rollout_id = ${rollout.id} group by stage order by min(batch)`;
      assertEquals([...stages], [
        { stage: "canary", n: 1, batches: 1 },
        { stage: "10%", n: 9, batches: 1 },
        { stage: "50%", n: 40, batches: 1 },
        { stage: "100%", n: 50, batches: 1 },
      ]);
      const [progress] = await advance();
      assertEquals(progress.state, "completed");
      const order = fleet.applied.slice(from).map((apply) => apply.userId);
      assertEquals(order.length, 100, "every user updated once");
      const inStage = async (stages: string[]) =>
        new Set(
          (await db.sql<{ user_id: string }[]>`
            select user_id from public.fly_rollout_targets
            where rollout_id = ${rollout.id} and stage = any (${stages})`).map((row) => row.user_id),
        );
      assertEquals(new Set(order.slice(0, 10)), await inStage(["canary", "10%"]), "10 first");
      assertEquals(new Set(order.slice(0, 50)), await inStage(["canary", "10%", "50%"]), "then 50");
      firstTen.push(order.slice(0, 10).sort());
      assertEquals((await get(rollout.id)).batch_size, 50, "a whole stage is one batch");
      assertEquals((await get(rollout.id)).healthy, 100);
    }
    assertEquals(firstTen[0], firstTen[1], "the same users are in the first 10 % every time");
    assertEquals(fleet.maxInFlight, 50, "each stage in parallel");
    const buckets = await db.sql<{ bucket: number }[]>`
      select distinct private.fly_rollout_bucket(user_id) as bucket from public.fly_rollout_targets
      where user_id = any (${firstTen[0]}::uuid[])`;
    assert(buckets.every((row) => row.bucket <= 20), "the first users are those of the lowest buckets");
    assertEquals((await repo.recent(5)).length, 2);
  });
});

Deno.test("named users and a saved cohort go before the first stage; a second start is a 409 naming the active rollout", async () => {
  await withRollouts(20, async ({ create, repo, db, users }) => {
    await repo.saveCohort("early-access", [users[3], users[4]], "ops-test");
    const rollout = await create({
      target: { image: IMAGE_B },
      stages: [50, 100],
      users: [users[7]],
      cohort: "early-access",
      canary_count: 1,
    });
    const rows = await db.sql<{ user_id: string; batch: number; stage: string }[]>`
      select user_id, batch, stage from public.fly_rollout_targets where rollout_id = ${rollout.id}
      order by batch, user_id`;
    const named = new Set([users[3], users[4], users[7]]);
    const early = rows.filter((row) => row.batch <= 1);
    assertEquals(new Set(early.map((row) => row.user_id)), named, "canary and batch 1 are the named users");
    assertEquals(early.find((row) => row.batch === 0)?.stage, "canary");
    assert(rows.filter((row) => row.batch > 1).every((row) => !named.has(row.user_id)));

    const error = await assertRejects(() => create({ target: { image: IMAGE_B } }));
    assert(
      String(error).includes(`rollout ${rollout.id} (running, all tiers) is already active`),
      String(error),
    );
    await assertRejects(() => create({ target: { image: IMAGE_B }, users: [crypto.randomUUID()] }));
    await assertRejects(() => create({ target: { image: IMAGE_B }, cohort: "nobody" }));
  });
});

Deno.test("bake: a finished batch is watched before the next; machines the sweep saw fail halt it, named", async () => {
  await withRollouts(6, async ({ create, advance, get, fleet, webhook, db }) => {
    const rollout = await create({ target: { image: IMAGE_B }, canary_count: 1, batch_size: 5, bake_s: 60 });
    const [baking] = await advance();
    assertEquals([baking.state, baking.waiting, fleet.applied.length], ["running", "bake", 1]);
    const canary = fleet.applied[0].userId;
    await db.sql`update public.user_fly_apps set health_status = 'unhealthy', last_health_check_at = now(),
      fly_app_name = 'user-app-canary', machine_id = 'm-canary' where user_id = ${canary}`;
    const [halted] = await advance();
    assertEquals([halted.state, halted.halted], ["halted", true]);
    const row = await get(rollout.id);
    assert(row.error?.includes("bake of batch 0 failed: 1 machine(s) failing"), String(row.error));
    assert(row.error?.includes("user-app-canary/m-canary (health unhealthy)"), String(row.error));
    assertEquals(fleet.applied.length, 1, "the next batch never started");
    assertEquals(JSON.parse(webhook.requests[0].body).machines[0].machine_id, "m-canary");
  });
});
