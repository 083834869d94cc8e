/**
 * A rollout through the controller over a fleet where half the machines are idle (stopped by the emulator's
 * proxy on a plan with `idle_action: stop`): the idle ones get the pinned image without being started and the
 * rollout completes; with `wake` every machine is started, passes the health gate, and the proxy idles the
 * woken ones again afterwards.
 */
import { assertEquals } from "../_support/assert.ts";
import { type EngineFixture, withEngine } from "../_support/engine_fixture.ts";
import { MachineSchema } from "../../supabase/functions/_shared/fly/schemas/machines.ts";
import { RolloutsRepository } from "../../supabase/functions/_shared/db/fly_rollouts.ts";
import { advanceRollouts, GATE_LOOK_MS } from "../../supabase/functions/_shared/rollout/driver.ts";
import { rolloutDeps } from "../../supabase/functions/_shared/rollout/apply.ts";
import { waitFor } from "../_support/wait.ts";

const IMAGE_B = "registry.fly.io/vyx-user-backend:b";
const IMAGE_C = "registry.fly.io/vyx-user-backend:c";

/** The user's one live machine on the emulator, typed like the client sees it. */
async function machineOf(f: EngineFixture, userId: string) {
  const name = (await f.row(userId)).fly_app_name;
  const app = f.emulator.state().apps.find((a) => a.name === name)!;
  return app.machines.map((m) => MachineSchema.parse(m)).find((m) => m.state !== "destroyed")!;
}

/** Runs a rollout of `image` over the pro fleet to its end; returns it. */
async function rollOut(f: EngineFixture, image: string, wake: boolean) {
  const rollouts = new RolloutsRepository(f.db.sql);
  const created = await rollouts.create(
    { target: { image }, tier: "pro", canary_count: 1, batch_size: 2, health_timeout_s: 30, wake },
    "ops:test",
  );
  assertEquals(created.wake, wake);
  // Each driver run looks at a gate for a few seconds at most and returns; drive until the rollout ends.
  const deadline = Date.now() + 60_000;
  let rollout = created;
  while (rollout.state === "running" && Date.now() < deadline) {
    await advanceRollouts(rolloutDeps(f.deps, rollouts), {
      owner: "driver",
      deadline,
      lookMs: GATE_LOOK_MS.background,
    });
    rollout = (await rollouts.get(created.id))!;
  }
  return rollout;
}

Deno.test("rollout over a half idle fleet: idle machines are applied (idle) without a start; --wake gates them all", async () => {
  await withEngine(async (f) => {
    await f.db.sql`update public.fly_plans set idle_action = 'stop' where tier = 'pro'`;
    const users = await f.subscribe("pro", 4);
    for (const user of users) assertEquals((await f.reconcile(user)).outcome, "converged");
    const idle = users.slice(0, 2);
    // The proxy idles every machine (no requests so far); then requests wake two of them.
    f.emulator.proxy.setIdleWindow(0);
    f.emulator.proxy.pass();
    await waitFor("the proxy to idle every machine", async () => {
      for (const user of users) if ((await machineOf(f, user)).state !== "stopped") return false;
      return true;
    }, 5_000);
    f.emulator.proxy.setIdleWindow(60 * 60_000);
    for (const user of users.slice(2)) {
      const answer = await fetch(f.emulator.proxyUrl((await f.row(user)).fly_app_name!));
      assertEquals(answer.status, 200);
      await answer.body?.cancel();
    }
    for (const user of users) assertEquals((await f.reconcile(user)).outcome, "converged");
    for (const user of idle) assertEquals((await f.row(user)).health_status, "idle");

    const plain = await rollOut(f, IMAGE_B, false);
    assertEquals([plain.state, plain.healthy, plain.failed], ["completed", 4, 0], JSON.stringify(plain));
    for (const user of users) {
      const machine = await machineOf(f, user);
      const expected = idle.includes(user) ? "stopped" : "started";
      assertEquals([machine.state, machine.image_ref?.digest], [expected, plain.image_digest], user);
    }

    const woken = await rollOut(f, IMAGE_C, true);
    assertEquals([woken.state, woken.healthy, woken.failed], ["completed", 4, 0], JSON.stringify(woken));
    for (const user of users) {
      const machine = await machineOf(f, user);
      // Every machine passed the gate: started, on the new image.
      assertEquals([machine.state, machine.image_ref?.digest], ["started", woken.image_digest], user);
    }
    // No request comes in: the proxy idles them again, one machine per app and region per pass.
    f.emulator.proxy.setIdleWindow(0);
    f.emulator.proxy.pass();
    await waitFor("the proxy to idle the woken machines", async () => {
      for (const user of idle) if ((await machineOf(f, user)).state !== "stopped") return false;
      return true;
    }, 5_000);
  }, { emulator: { proxy: { passIntervalMs: 0 } } });
});
