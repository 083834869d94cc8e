/** The rollout driver over a scratch database, with a fake fleet as the controller's apply. */
import { assert, assertEquals } from "../_support/assert.ts";
import { appliesPerUser, IMAGE_A, IMAGE_B, withRollouts } from "./_fixture.ts";

Deno.test("rollout: 20 users, canary 1, batch 5 → all on B's pinned digest, healthy, completed, events per machine", async () => {
  await withRollouts(20, async ({ create, advance, get, fleet, db, users, repo }) => {
    const digestB = fleet.digestOf(IMAGE_B);
    const rollout = await create({ target: { image: IMAGE_B }, canary_count: 1, batch_size: 5 });
    const [progress] = await advance();
    assertEquals([progress.state, progress.applied], ["completed", {
      healthy: 20,
      failed: 0,
      progressing: 0,
      gate: 0,
      skipped: 0,
    }]);

    const done = await get(rollout.id);
    assertEquals(
      [done.state, done.total, done.updated, done.healthy, done.failed, done.image_digest],
      ["completed", 20, 20, 20, 0, digestB],
    );
    assert(
      users.every((user) => fleet.machines.get(user)?.digest === digestB),
      "every machine on B's digest",
    );
    assertEquals(fleet.applied[0].spec, { image: IMAGE_B }, "the canary resolves the tag");
    assert(
      fleet.applied.slice(1).every((apply) => apply.spec.digest === digestB),
      "everything after the canary gets image@digest",
    );
    assertEquals(fleet.maxInFlight, 5, "batches of 5 in parallel, never more");
    assert([...appliesPerUser(fleet).values()].every((count) => count === 1), "each machine applied once");
    const [{ count }] = await db.sql<{ count: number }[]>`
      select count(distinct user_id)::int as count from public.user_fly_app_events
      where event_type = 'rollout_target_healthy' and metadata ->> 'rollout_id' = ${rollout.id}`;
    assertEquals(count, 20, "one event per machine");
    const events = await db.sql<{ event_type: string }[]>`
      select event_type from public.fly_rollout_events where rollout_id = ${rollout.id} order by seq`;
    assertEquals(events.map((e) => e.event_type), ["created", "started", "digest_pinned", "completed"]);
    const status = await repo.status();
    assertEquals(status?.batches, [
      { batch: 0, stage: "canary", healthy: 1 },
      ...[5, 5, 5, 4].map((healthy, index) => ({ batch: index + 1, stage: "100%", healthy })),
    ]);
  });
});

Deno.test("rollout: a -broken image halts once the canaries fail the gate; the rest untouched; alert; rollback restores them", async () => {
  await withRollouts(20, async ({ create, advance, get, fleet, webhook, users, repo }) => {
    const digestA = fleet.digestOf(IMAGE_A);
    fleet.push(`${IMAGE_B}-broken`);
    const rollout = await create({ target: { image: `${IMAGE_B}-broken` }, canary_count: 2, batch_size: 5 });
    const [progress] = await advance();
    assertEquals([progress.state, progress.halted], ["halted", true]);
    const halted = await get(rollout.id);
    assertEquals([halted.state, halted.failed, halted.healthy, halted.image_digest], ["halted", 2, 0, null]);
    assert(halted.error?.includes("2 of 2 canaries failed: health checks not passing"), String(halted.error));
    const canaries = [...fleet.updates.keys()];
    assertEquals(canaries.length, 2, "only the canaries were updated");
    assertEquals(
      users.filter((user) => fleet.machines.get(user)?.digest === digestA).length,
      18,
      "18 untouched",
    );

    assertEquals(webhook.requests.length, 1, "one alert");
    const alert = JSON.parse(webhook.requests[0].body);
    assertEquals([alert.type, alert.rollout_id, alert.reason, alert.failed], [
      "fly_rollout_alert",
      rollout.id,
      "rollout_halted",
      2,
    ]);
    assertEquals(await advance(), [], "a halted rollout is not driven");

    await repo.transition(rollout.id, "rollback", "ops-test", { reason: "b is broken" });
    const [rolledBack] = await advance();
    assertEquals([rolledBack.state, rolledBack.direction], ["rolled_back", "rollback"]);
    assert(
      canaries.every((user) => fleet.machines.get(user)?.digest === digestA),
      "canaries back on A's digest",
    );
    const rollbackSpecs = fleet.applied.slice(-2).map((apply) => apply.spec);
    assert(rollbackSpecs.every((spec) => spec.image === IMAGE_A && spec.digest === digestA), "previous spec");
    assertEquals(fleet.applied.length, 4, "the other 18 never applied, not even by the rollback");
    const final = await get(rollout.id);
    assertEquals([final.state, final.rolled_back, final.failed], ["rolled_back", 2, 0]);
  });
});

Deno.test("rollout: an image that does not resolve halts at the canaries with the pull error, no machine changed", async () => {
  await withRollouts(6, async ({ create, advance, get, fleet }) => {
    const rollout = await create({
      target: { image: "registry.fly.io/backend:never-pushed" },
      batch_size: 2,
    });
    await advance();
    const halted = await get(rollout.id);
    assertEquals(halted.state, "halted");
    assert(
      halted.error?.includes("failed to get manifest registry.fly.io/backend:never-pushed"),
      halted.error!,
    );
    assertEquals([fleet.applied.length, fleet.updates.size], [1, 0]);
  });
});

Deno.test("rollout: a tag re-pushed mid-rollout does not split the fleet: the rest still gets the pinned digest", async () => {
  await withRollouts(8, async ({ create, advance, get, fleet, users }) => {
    const pinned = fleet.digestOf(IMAGE_B);
    fleet.onApply = () => {
      if (fleet.applied.length === 3) fleet.push(IMAGE_B);
      return Promise.resolve();
    };
    const rollout = await create({ target: { image: IMAGE_B }, canary_count: 1, batch_size: 2 });
    await advance();
    assert(fleet.digestOf(IMAGE_B) !== pinned, "the tag was re-pushed");
    assertEquals((await get(rollout.id)).state, "completed");
    assert(
      users.every((user) => fleet.machines.get(user)?.digest === pinned),
      "every machine on the pinned digest",
    );
  });
});

Deno.test("rollout: pause mid-way, a driver dies with targets in flight, resume → completes, no machine updated twice", async () => {
  await withRollouts(12, async ({ create, advance, get, fleet, repo, db, users }) => {
    fleet.onApply = async () => {
      if (fleet.applied.length === 5) await repo.transition(rollout.id, "pause", "ops-test");
    };
    const rollout = await create({ target: { image: IMAGE_B }, canary_count: 1, batch_size: 4 });
    const [paused] = await advance();
    assertEquals(paused.state, "paused");
    const mid = await get(rollout.id);
    assertEquals(
      [mid.state, mid.healthy],
      ["paused", 5],
      "the batch in flight finishes, nothing more starts",
    );
    assertEquals(await advance(), [], "a paused rollout is not driven");

    // A driver that claimed the next targets and then died (its lease runs out).
    await repo.transition(rollout.id, "resume", "ops-test");
    fleet.onApply = undefined;
    await repo.leaseRunning("dead-driver", 60);
    const inFlight = await repo.claimTargets(rollout.id, "dead-driver", 4);
    assertEquals(inFlight.map((target) => target.batch), [2, 2, 2, 2], "the next batch");
    await fleet.apply(inFlight[0], { image: IMAGE_B, digest: mid.image_digest! }, {
      deadline: Date.now() + 1_000,
      gateStartedAt: null,
      lookMs: 0,
      wake: false,
      includeOverridden: false,
    });
    assertEquals(await advance("driver-2"), [], "the dead driver's lease still holds");
    await db.sql`update public.fly_rollouts set lease_expires_at = now() - interval '1 second'`;

    const [resumed] = await advance("driver-2");
    assertEquals(resumed.state, "completed");
    const done = await get(rollout.id);
    assertEquals([done.healthy, done.failed], [12, 0]);
    assert(users.every((user) => fleet.updates.get(user) === 1), "every machine updated exactly once");
    const attempts = await db.sql<{ attempts: number }[]>`
      select attempts from public.fly_rollout_targets where user_id = ${inFlight[0].user_id}`;
    assertEquals(attempts[0].attempts, 2, "the in-flight target was resumed, not restarted from scratch");
  });
});

Deno.test("rollout: failures within max_failures go on; one more halts; a progressing target is resumed next run", async () => {
  await withRollouts(9, async ({ create, advance, get, fleet, db }) => {
    const rollout = await create({
      target: { image: IMAGE_B },
      canary_count: 1,
      batch_size: 2,
      max_failures: 1,
    });
    const batches = await db.sql<{ user_id: string; batch: number }[]>`
      select user_id, batch from public.fly_rollout_targets where rollout_id = ${rollout.id} order by batch, user_id`;
    const inBatch = (n: number) =>
      batches.filter((target) => target.batch === n).map((target) => target.user_id);
    fleet.scripted.set(inBatch(1)[0], { outcome: "failed", error: "machine ended failed" });
    fleet.scripted.set(inBatch(2)[0], { outcome: "progressing" });
    fleet.scripted.set(inBatch(3)[0], { outcome: "failed", error: "health gate timed out" });

    const [first] = await advance();
    assertEquals([first.state, first.applied.progressing], ["running", 1], "stops at the progressing target");
    assertEquals((await get(rollout.id)).failed, 1, "one failure is within max_failures");

    const [second] = await advance();
    assertEquals([second.state, second.halted], ["halted", true]);
    const halted = await get(rollout.id);
    assertEquals([halted.failed, halted.healthy], [2, 5]);
    assert(halted.error?.startsWith("2 targets failed, more than max_failures 1: health gate timed out"));
    assertEquals(inBatch(4).every((user) => !fleet.updates.has(user)), true, "the last batch is untouched");
  });
});

Deno.test("rollout: a plan change (memory) without an image; an image over an empty scope halts, unproven", async () => {
  await withRollouts(3, async ({ create, advance, get, fleet, repo }) => {
    const rollout = await create({ target: { memory_mb: 1024 }, canary_count: 0, batch_size: 3 });
    await advance();
    assertEquals([(await get(rollout.id)).state, (await get(rollout.id)).image_digest], ["completed", null]);
    assertEquals(fleet.maxInFlight, 3, "no pinning needed: the whole batch at once");
    assert(fleet.applied.every((apply) => apply.spec.memory_mb === 1024 && !apply.spec.digest));

    // No machine can prove the image, and a completed rollout would write it into the elite plan.
    const empty = await repo.create({ target: { image: IMAGE_B }, tier: "elite" }, "ops-test");
    assertEquals(empty.total, 0);
    await advance();
    const halted = await get(empty.id);
    assertEquals(halted.state, "halted");
    assert(halted.error?.includes("unproven"), halted.error ?? "no error");
  });
});
