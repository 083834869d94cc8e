/**
 * A rollback through the controller puts the canary back on the image reference it ran before, exactly as its
 * row recorded it: the tag stays the tag (not `repo@sha256:…`), so after the rollout ends the machine reads as
 * its plan again and runs the same digest as before. Found by the property test: the rolled-back canary ran
 * `vyx-user-backend@sha256:…` while its plan said `vyx-user-backend:latest`, image drift that no rollout
 * would ever clear, under a rollout that said `rolled_back`. When the tag was pushed again meanwhile, the
 * rollback still puts back the digest the machine ran (`repo@digest`): never other bits than before. A user
 * whose reconcile is refused for good (here a region override the volume cannot follow) is skipped as
 * `refused` and the rollback still ends `rolled_back` (the property test found it halting for good).
 */
import { assertEquals } from "../_support/assert.ts";
import { withEngine } from "../_support/engine_fixture.ts";
import type { EngineFixture } from "../_support/engine_fixture.ts";
import { MachineSchema } from "../../supabase/functions/_shared/fly/schemas/machines.ts";
import { RolloutsRepository } from "../../supabase/functions/_shared/db/fly_rollouts.ts";
import { rolloutDeps } from "../../supabase/functions/_shared/rollout/apply.ts";
import { driveUntilSettled } from "./_fixture.ts";

/** The user's one live machine: the image its config names, and the digest Fly resolved. */
async function imageOf(f: EngineFixture, userId: string): Promise<{ image: string; digest: string }> {
  const name = (await f.row(userId)).fly_app_name;
  const app = f.emulator.state().apps.find((a) => a.name === name)!;
  const [machine] = app.machines.map((m) => MachineSchema.parse(m)).filter((m) => m.state !== "destroyed");
  return { image: String(machine.config.image), digest: String(machine.image_ref?.digest) };
}

/** Halts a `-broken` rollout of pro at its canary, runs `meanwhile`, rolls back; returns the canary. */
async function haltAndRollBack(
  f: EngineFixture,
  meanwhile: (canary: string) => Promise<unknown> | void,
): Promise<string> {
  const rollouts = new RolloutsRepository(f.db.sql);
  const deps = rolloutDeps(f.deps, rollouts);
  const rollout = await rollouts.create(
    {
      target: { image: "registry.fly.io/vyx-user-backend:b-broken" },
      tier: "pro",
      canary_count: 1,
      batch_size: 2,
      health_timeout_s: 1,
    },
    "ops:test",
  );
  await driveUntilSettled(deps);
  assertEquals((await rollouts.get(rollout.id))?.state, "halted");
  const [{ user_id: canary }] = await f.db.sql<{ user_id: string }[]>`
    select user_id from public.fly_rollout_targets where rollout_id = ${rollout.id} and batch = 0`;
  assertEquals(
    (await imageOf(f, canary)).image,
    "registry.fly.io/vyx-user-backend:b-broken",
    "canary updated",
  );
  await meanwhile(canary);
  await rollouts.transition(rollout.id, "rollback", "ops:test", { reason: "broken" });
  await driveUntilSettled(deps);
  assertEquals((await rollouts.get(rollout.id))?.state, "rolled_back");
  return canary;
}

Deno.test("rollback: a halted canary goes back to the tag it ran, not to a pinned digest of it", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 2);
    for (const user of users) assertEquals((await f.reconcile(user)).outcome, "converged");
    const before = new Map(await Promise.all(users.map(async (u) => [u, await imageOf(f, u)] as const)));

    await haltAndRollBack(f, () => {});
    for (const user of users) {
      assertEquals(
        await imageOf(f, user),
        before.get(user),
        `user ${user} runs what it ran before, as it named it`,
      );
    }
  });
});

Deno.test("rollback: when the tag was pushed again meanwhile, the canary is held to the digest it ran", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 2);
    for (const user of users) assertEquals((await f.reconcile(user)).outcome, "converged");
    const before = new Map(await Promise.all(users.map(async (u) => [u, await imageOf(f, u)] as const)));
    const canary = await haltAndRollBack(f, () => void f.emulator.pushImage(before.get(users[0])!.image));
    const { image, digest } = before.get(canary)!;
    assertEquals(
      await imageOf(f, canary),
      { image: `${image.split(":").slice(0, -1).join(":")}@${digest}`, digest },
      "pinned to the digest it ran before, not the tag's new one",
    );
  });
});

Deno.test("rollback: a user whose reconcile is refused for good is skipped as refused; the rollback ends", async () => {
  await withEngine(async (f) => {
    await f.db
      .sql`update public.fly_plans set volume_size_gb = 1, volume_mount_path = '/data' where tier = 'pro'`;
    const users = await f.subscribe("pro", 2);
    for (const user of users) assertEquals((await f.reconcile(user)).outcome, "converged");
    // The canary's volume is in sin: a region override to fra is refused (the data would not follow).
    const canary = await haltAndRollBack(
      f,
      (user) =>
        f.db.sql`select private.set_user_fly_app_override(${user}, ${f.db.sql.json({ region: "fra" })},
                 'ops:test', 'a customer moved')`,
    );
    const [target] = await f.db.sql<{ state: string; skip_reason: string }[]>`
      select state, skip_reason from public.fly_rollout_targets where user_id = ${canary}`;
    assertEquals([target.state, target.skip_reason], ["skipped", "refused"]);
    const row = await f.row(canary);
    assertEquals(row.status, "error", "the refusal is the user's own, alerted by the controller");
  });
});
