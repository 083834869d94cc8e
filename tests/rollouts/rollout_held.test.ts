/**
 * A rollout through the controller over a fleet with held users: canaries are drawn from the running users,
 * a held user's machine gets the pinned image and stays stopped, its target counts as applied without the
 * health gate, and the rollout completes with the default max_failures of 0. A user not provisioned yet is
 * skipped.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { withEngine } from "../_support/engine_fixture.ts";
import { MachineSchema } from "../../supabase/functions/_shared/fly/schemas/machines.ts";
import { RolloutsRepository } from "../../supabase/functions/_shared/db/fly_rollouts.ts";
import { driveUntilSettled } from "./_fixture.ts";
import { targetLabel } from "../../supabase/functions/_shared/rollout/progress.ts";
import { rolloutDeps } from "../../supabase/functions/_shared/rollout/apply.ts";
import type { EngineFixture } from "../_support/engine_fixture.ts";

const IMAGE_B = "registry.fly.io/vyx-user-backend:b";

/** The user's one live machine on the emulator, typed like the client sees it. */
async function machineOf(f: EngineFixture, userId: string) {
  const name = (await f.row(userId)).fly_app_name;
  const app = f.emulator.state().apps.find((a) => a.name === name)!;
  const live = app.machines.map((m) => MachineSchema.parse(m)).filter((m) => m.state !== "destroyed");
  assertEquals(live.length, 1, `one live machine for ${userId}`);
  return live[0];
}

Deno.test("rollout through the controller: held users get the image and stay stopped, never canaries; the rollout completes", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 4);
    for (const user of users) assertEquals((await f.reconcile(user)).outcome, "converged");
    const held = users.slice(0, 2);
    const running = users.slice(2);
    await f.db.sql`
      update public.user_fly_apps set held_at = now(), held_by = 'ops:test', hold_reason = 'test',
        next_attempt_at = now()
      where user_id = any (${held}::uuid[])`;
    for (const user of held) await f.reconcile(user);
    for (const user of held) assertEquals((await machineOf(f, user)).state, "stopped");

    const rollouts = new RolloutsRepository(f.db.sql);
    const rollout = await rollouts.create(
      { target: { image: IMAGE_B }, tier: "pro", canary_count: 2, batch_size: 2, health_timeout_s: 30 },
      "ops:test",
    );
    const canaries = await f.db.sql<{ user_id: string }[]>`
      select user_id from public.fly_rollout_targets where rollout_id = ${rollout.id} and batch = 0`;
    assertEquals(
      new Set(canaries.map((c) => c.user_id)),
      new Set(running),
      "the canaries are the running users",
    );

    await driveUntilSettled(rolloutDeps(f.deps, rollouts));
    const done = (await rollouts.get(rollout.id))!;
    assertEquals([done.state, done.healthy, done.failed], ["completed", 4, 0], JSON.stringify(done));
    const status = (await rollouts.status(rollout.id))!;
    assertEquals(
      status.targets.filter((t) => t.skip_reason === "held").map((t) => t.user_id).sort(),
      [...held].sort(),
      "status says which targets got the config without a gate",
    );
    assert(done.image_digest?.startsWith("sha256:"), String(done.image_digest));

    for (const user of held) {
      const machine = await machineOf(f, user);
      assertEquals([machine.state, machine.image_ref?.digest], ["stopped", done.image_digest], user);
      assertEquals((await f.row(user)).status, "held");
    }
    for (const user of running) {
      const machine = await machineOf(f, user);
      assertEquals([machine.state, machine.image_ref?.digest], ["started", done.image_digest], user);
    }
  });
});

Deno.test("rollout through the controller: a user not provisioned yet is skipped, untouched, and status says why", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 3);
    for (const user of users.slice(0, 2)) assertEquals((await f.reconcile(user)).outcome, "converged");
    const waiting = users[2];
    assertEquals((await f.row(waiting)).machine_id, null);
    // Its first provisioning failed and backs off: nothing is on its way, so the rollout does not wait.
    await f.db.sql`update public.user_fly_apps set status = 'error', error_message = 'Fly answered 503',
      next_attempt_at = now() + interval '1 hour' where user_id = ${waiting}`;

    const rollouts = new RolloutsRepository(f.db.sql);
    const rollout = await rollouts.create(
      { target: { image: IMAGE_B }, tier: "pro", canary_count: 1, batch_size: 2, health_timeout_s: 30 },
      "ops:test",
    );
    await driveUntilSettled(rolloutDeps(f.deps, rollouts));
    const done = (await rollouts.get(rollout.id))!;
    assertEquals([done.state, done.healthy, done.skipped, done.failed], ["completed", 2, 1, 0]);
    assertEquals((await f.row(waiting)).machine_id, null, "the rollout did not provision it");
    const status = (await rollouts.status(rollout.id))!;
    const skipped = status.targets.find((t) => t.user_id === waiting)!;
    assertEquals(targetLabel(skipped), "skipped (not provisioned)");
  });
});

Deno.test("rollout through the controller: a user whose image an operator pinned is skipped, keeps the pin, and status says why", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 3);
    const pinned = users[2];
    const pinnedImage = "registry.fly.io/vyx-user-backend:hotfix";
    await f.db.sql`select private.set_user_fly_app_override(${pinned}::uuid, ${
      f.db.sql.json({ image: pinnedImage })
    }, 'ops:test', 'testing a fix')`;
    for (const user of users) assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals((await f.row(pinned)).docker_image, pinnedImage);

    const rollouts = new RolloutsRepository(f.db.sql);
    const rollout = await rollouts.create(
      { target: { image: IMAGE_B }, tier: "pro", canary_count: 1, batch_size: 2, health_timeout_s: 30 },
      "ops:test",
    );
    await driveUntilSettled(rolloutDeps(f.deps, rollouts));
    const done = (await rollouts.get(rollout.id))!;
    assertEquals([done.state, done.healthy, done.skipped, done.failed], ["completed", 2, 1, 0]);
    assertEquals((await f.row(pinned)).docker_image, pinnedImage, "the override still wins");
    const status = (await rollouts.status(rollout.id))!;
    assertEquals(targetLabel(status.targets.find((t) => t.user_id === pinned)!), "skipped (overridden)");
  });
});

Deno.test("rollout through the controller: --include-overridden rolls out a user whose image an operator pinned", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 2);
    const pinned = users[1];
    await f.db.sql`select private.set_user_fly_app_override(${pinned}::uuid, ${
      f.db.sql.json({ image: "registry.fly.io/vyx-user-backend:hotfix" })
    }, 'ops:test', 'testing a fix')`;
    for (const user of users) assertEquals((await f.reconcile(user)).outcome, "converged");

    const rollouts = new RolloutsRepository(f.db.sql);
    const rollout = await rollouts.create(
      {
        target: { image: IMAGE_B },
        tier: "pro",
        canary_count: 1,
        batch_size: 2,
        health_timeout_s: 30,
        include_overridden: true,
      },
      "ops:test",
    );
    assertEquals(rollout.include_overridden, true);
    await driveUntilSettled(rolloutDeps(f.deps, rollouts));
    const done = (await rollouts.get(rollout.id))!;
    assertEquals([done.state, done.healthy, done.skipped, done.failed], ["completed", 2, 0, 0]);
    const machine = await machineOf(f, pinned);
    assertEquals(machine.image_ref?.digest, done.image_digest, "the rollout's image won over the override");
    const [override] = await f.db
      .sql`select image from public.user_fly_app_overrides where user_id = ${pinned}`;
    assertEquals(override, undefined, "the override (image only) was handed over to the plan");
    assertEquals((await f.reconcile(pinned)).outcome, "converged");
    assertEquals(
      (await machineOf(f, pinned)).image_ref?.digest,
      done.image_digest,
      "a later reconcile keeps it",
    );
  });
});

Deno.test("rollout through the controller: a user whose first machine is on its way is waited for, then updated", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 3);
    for (const user of users.slice(0, 2)) assertEquals((await f.reconcile(user)).outcome, "converged");
    const late = users[2];
    assertEquals((await f.row(late)).status, "pending", "due, its provisioning not done yet");

    const rollouts = new RolloutsRepository(f.db.sql);
    const deps = rolloutDeps(f.deps, rollouts);
    const rollout = await rollouts.create(
      { target: { image: IMAGE_B }, tier: "pro", canary_count: 1, batch_size: 3, health_timeout_s: 30 },
      "ops:test",
    );
    await driveUntilSettled(deps, { budgetMs: 10_000 });
    const waiting = (await rollouts.get(rollout.id))!;
    assertEquals(
      [waiting.state, waiting.healthy, waiting.skipped],
      ["running", 2, 0],
      "waits for the late one",
    );
    // Its provisioning (the kick's reconcile) happens now, on whatever the spec says at this moment.
    assertEquals((await f.reconcile(late)).outcome, "converged");
    await driveUntilSettled(deps);
    const done = (await rollouts.get(rollout.id))!;
    assertEquals([done.state, done.healthy, done.skipped, done.failed], ["completed", 3, 0, 0]);
    assertEquals(
      (await machineOf(f, late)).image_ref?.digest,
      done.image_digest,
      "the late machine is updated",
    );
  });
});

Deno.test("rollout through the controller: an image no machine ran halts instead of completing into the plans", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro", 1);
    // Its first provisioning failed and backs off: the rollout has nobody to prove the image on.
    await f.db.sql`update public.user_fly_apps set status = 'error', error_message = 'Fly answered 503',
      next_attempt_at = now() + interval '1 hour' where user_id = ${user}`;
    const [before] = await f.db.sql`select image from public.fly_plans where tier = 'pro'`;

    const rollouts = new RolloutsRepository(f.db.sql);
    const rollout = await rollouts.create(
      { target: { image: IMAGE_B }, tier: "pro", canary_count: 1, batch_size: 2, health_timeout_s: 30 },
      "ops:test",
    );
    await driveUntilSettled(rolloutDeps(f.deps, rollouts));
    const done = (await rollouts.get(rollout.id))!;
    assertEquals([done.state, done.skipped, done.image_digest], ["halted", 1, null]);
    assert(done.error?.includes("unproven"), done.error ?? "no error");
    const [after] = await f.db.sql`select image from public.fly_plans where tier = 'pro'`;
    assertEquals(after.image, before.image, "the plans keep their image");
  });
});

Deno.test("rollout through the controller: a user whose machine was created during the rollout is adopted and updated before it completes", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 2);
    for (const user of users) assertEquals((await f.reconcile(user)).outcome, "converged");
    const rollouts = new RolloutsRepository(f.db.sql);
    const rollout = await rollouts.create(
      { target: { image: IMAGE_B }, tier: "pro", canary_count: 1, batch_size: 2, health_timeout_s: 30 },
      "ops:test",
    );
    assertEquals(rollout.total, 2);
    // A user who became paid after the rollout started: no target, provisioned on the plans' old image.
    const [late] = await f.subscribe("pro", 1);
    assertEquals((await f.reconcile(late)).outcome, "converged");
    const before = (await machineOf(f, late)).image_ref?.digest;

    await driveUntilSettled(rolloutDeps(f.deps, rollouts));
    const done = (await rollouts.get(rollout.id))!;
    assertEquals([done.state, done.total, done.healthy, done.failed], ["completed", 3, 3, 0]);
    const after = (await machineOf(f, late)).image_ref?.digest;
    assert(after !== before, "the late machine changed image");
    assertEquals(after, done.image_digest, "the late machine runs the rollout's digest");
  });
});
