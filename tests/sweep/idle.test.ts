/**
 * Idle machines: a plan with `idle_action` lets Fly's proxy (the emulator's) stop or suspend the machine when
 * no request comes in; the sweep judges it `idle` (never repaired or alerted), a request wakes it, and a held
 * machine (`autostart: false`) is never woken by a request.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { type EngineFixture, withEngine } from "../_support/engine_fixture.ts";
import { waitFor } from "../_support/wait.ts";
import { flyFleetLister } from "../../supabase/functions/_shared/sweep/fleet_listing.ts";
import { runHealthSweep, type SweepReport } from "../../supabase/functions/_shared/sweep/sweep.ts";

function sweep(f: EngineFixture): Promise<SweepReport> {
  return runHealthSweep(f.deps, {
    owner: `sweep:${crypto.randomUUID()}`,
    limit: 100,
    budgetMs: 20_000,
    lister: flyFleetLister(f.deps.fly, f.emulator.orgSlug),
  });
}

/** The state of the user's machine in the emulator. */
function machineOf(f: EngineFixture, appName: string) {
  const app = f.emulator.state().apps.find((a) => a.name === appName);
  return app!.machines.find((m) => m.state !== "destroyed")!;
}

/** A request to `{app}.fly.dev` through the emulator's proxy. */
async function request(
  f: EngineFixture,
  appName: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${f.emulator.proxyUrl(appName)}/hello`);
  return { status: response.status, body: await response.json() };
}

/** A pro user provisioned on a plan with `idleAction`; returns the user and the app's name. */
async function idleUser(f: EngineFixture, idleAction: "off" | "stop" | "suspend") {
  await f.db.sql`update public.fly_plans set idle_action = ${idleAction} where tier = 'pro'`;
  const [user] = await f.subscribe("pro");
  assertEquals((await f.reconcile(user)).outcome, "converged");
  return { user, appName: (await f.row(user)).fly_app_name! };
}

const fastProxy = { emulator: { proxy: { idleWindowMs: 250, passIntervalMs: 50 } } };

Deno.test("idle: with idle_action stop the proxy stops the machine, the sweep leaves it idle, a request wakes it", async () => {
  await withEngine(async (f) => {
    const { user, appName } = await idleUser(f, "stop");
    const service = (machineOf(f, appName).config.services as Record<string, unknown>[])[0];
    // Fly reports autostop "stop" as true.
    assertEquals([service.autostop, service.autostart, service.min_machines_running], [true, true, 0]);

    // The machine stops on its own once no request came in for the idle window.
    await waitFor("the proxy to stop the machine", () => machineOf(f, appName).state === "stopped", 5_000);
    const eventsBefore = await f.eventTypes(user);
    for (let i = 0; i < 5; i++) {
      const report = await sweep(f);
      assertEquals([report.observed.repaired, report.observed.repair_failed, report.reconciled.converged], [
        0,
        0,
        0,
      ]);
      assertEquals(machineOf(f, appName).state, "stopped", `sweep ${i + 1} left the machine stopped`);
    }
    const row = await f.row(user);
    assertEquals([row.health_status, row.status, row.last_machine_state], ["idle", "active", "stopped"]);
    const events = (await f.eventTypes(user)).slice(eventsBefore.length);
    assertEquals(events, ["health_changed"], "one health change to idle, no repair, no alert");
    const [change] = await f.db.sql`
      select status, metadata->>'to' as "to" from public.user_fly_app_events
      where user_id = ${user} and event_type = 'health_changed' order by seq desc limit 1`;
    assertEquals([change.status, change.to], ["info", "idle"]);

    // A request through the proxy starts it and is answered once it runs.
    f.emulator.proxy.schedule(0);
    const answer = await request(f, appName);
    assertEquals([answer.status, answer.body.woke_from, answer.body.machine_id], [
      200,
      "stopped",
      row.machine_id,
    ]);
    assertEquals(machineOf(f, appName).state, "started");
    await sweep(f);
    assertEquals((await f.row(user)).health_status, "healthy");
  }, fastProxy);
});

Deno.test("idle: with idle_action suspend the proxy suspends the machine and a request resumes it faster than a start", async () => {
  await withEngine(async (f) => {
    const { appName } = await idleUser(f, "suspend");
    await waitFor(
      "the proxy to suspend the machine",
      () => machineOf(f, appName).state === "suspended",
      5_000,
    );
    f.emulator.proxy.schedule(0);
    const answer = await request(f, appName);
    assertEquals([answer.status, answer.body.woke_from], [200, "suspended"]);
    // fast latency: resume 8 ms, start 20 ms.
    assert(Number(answer.body.wake_ms) < f.emulator.latency.startMs, `resumed in ${answer.body.wake_ms} ms`);
  }, { emulator: { proxy: { idleWindowMs: 250, passIntervalMs: 50 }, latency: { startMs: 400 } } });
});

Deno.test("idle: idle_action off keeps the machine running, and a stopped one is still repaired", async () => {
  await withEngine(async (f) => {
    const { user, appName } = await idleUser(f, "off");
    await new Promise((resolve) => setTimeout(resolve, 400));
    assertEquals(f.emulator.proxy.pass(), [], "autostop off: nothing idled");
    assertEquals(machineOf(f, appName).state, "started");
    const row = await f.row(user);
    f.emulator.setMachineState(appName, row.machine_id!, "stopped");
    const report = await sweep(f);
    assertEquals(report.observed.repaired, 1);
    assertEquals(machineOf(f, appName).state, "started");
  }, fastProxy);
});

Deno.test("idle: a held machine gets autostart false, a request does not wake it; release puts it back", async () => {
  await withEngine(async (f) => {
    const { user, appName } = await idleUser(f, "stop");
    f.emulator.proxy.schedule(0);
    await f.db.sql`select private.set_user_fly_app_hold(${user}::uuid, true, 'ops:test', 'abuse report')`;
    assertEquals((await f.reconcile(user)).outcome, "converged");
    let machine = machineOf(f, appName);
    assertEquals(machine.state, "stopped");
    assertEquals((machine.config.services as Record<string, unknown>[])[0].autostart, false);

    const answer = await request(f, appName);
    assertEquals(answer.status, 503);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assertEquals(machineOf(f, appName).state, "stopped", "the request did not start the held machine");

    await f.db.sql`select private.set_user_fly_app_hold(${user}::uuid, false, 'ops:test')`;
    assertEquals((await f.reconcile(user)).outcome, "converged");
    machine = machineOf(f, appName);
    assertEquals((machine.config.services as Record<string, unknown>[])[0].autostart, true);
    assertEquals((await request(f, appName)).status, 200);
  }, fastProxy);
});

Deno.test("idle: suspend is refused for a plan over 2 GB of memory (nothing written)", async () => {
  await withEngine(async (f) => {
    await f.db.sql`update public.fly_plans set memory_mb = 4096 where tier = 'pro'`;
    const refused = await f.db.sql`update public.fly_plans set idle_action = 'suspend' where tier = 'pro'`
      .then(() => null, (error) => error.constraint_name);
    assertEquals(refused, "fly_plans_suspend_limits_check");
    const [plan] = await f.db.sql`select idle_action from public.fly_plans where tier = 'pro'`;
    assertEquals(plan.idle_action, "off");
  });
});
