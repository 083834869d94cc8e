/**
 * End to end: the health sweep (`POST /functions/v1/check-fly-apps-health?wait=true`) is the safety net.
 * A tier change whose kick pg_net dropped converges in one sweep; a machine stopped, crashed or destroyed
 * (or a whole app deleted) behind the system's back is repaired in one sweep, with the health going
 * unhealthy -> healthy in `health_changed` events and a `repaired` event.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { waitFor } from "../_support/wait.ts";
import { liveMachines, type Stack, startStack } from "./_support.ts";
import { applyTierChanges } from "../_support/tier_outbox.ts";

/** Calls the emulated Machines API directly, as something other than our functions would. */
async function flyApi(stack: Stack, method: string, path: string): Promise<void> {
  const response = await fetch(`${stack.emulator.url}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.emulator.token}` },
  });
  await response.body?.cancel();
  assert(response.ok, `${method} ${path} answered ${response.status}`);
}

/** The state of a machine in the emulator (destroyed ones included), or undefined. */
function machineState(stack: Stack, appName: string, machineId: string): string | undefined {
  const app = stack.emulator.state().apps.find((a) => a.name === appName);
  return app?.machines.find((m) => m.id === machineId)?.state;
}

/** A user provisioned through the trigger, settled and healthy. */
async function provisionedUser(stack: Stack) {
  const [user] = await stack.newUsers(1);
  await stack.setTier(user, "pro");
  const row = await stack.waitSettled(user);
  assertEquals([row.status, row.health_status], ["active", "healthy"]);
  return { user, row, appName: row.fly_app_name!, machineId: row.machine_id! };
}

Deno.test("the health sweep converges lost kicks and repairs drift", async (t) => {
  const stack = await startStack();
  try {
    await t.step("a tier change whose kick is lost converges in one sweep", async () => {
      const [user] = await stack.newUsers(1);
      await stack.setTier(user, "free");
      // The change is drained but its kick is lost (drained in the same transaction, without a kick).
      await stack.sql.begin(async (tx) => {
        await tx`update public.user_subscriptions set tier = 'pro' where user_id = ${user}`;
        await applyTierChanges(tx);
      });
      await stack.services.worker!.drain();
      const pending = await stack.row(user);
      assertEquals([pending?.status, pending?.observed_generation, pending?.desired_generation], [
        "pending",
        0,
        1,
      ]);
      assertEquals(await stack.appsOf(user), [], "nothing reached Fly");

      const report = await stack.sweep();
      assert(report.reconciled.converged >= 1, JSON.stringify(report));
      const row = await stack.row(user);
      assertEquals(
        [row?.status, row?.observed_generation, row?.next_attempt_at, row?.health_status],
        ["active", 1, null, "healthy"],
      );
      const apps = await stack.appsOf(user);
      assertEquals(apps.map((a) => a.name), [row?.fly_app_name]);
      assertEquals(apps[0].machines.map((m) => [m.id, m.state]), [[row?.machine_id, "started"]]);
      const started = (await stack.events(user)).find((e) => e.event_type === "provision_started");
      assertEquals(started?.metadata.reason, "sweep_due");
    });

    const cases = [
      {
        name: "machine stopped through the Machines API",
        reason: "machine_stopped",
        sameMachine: true,
        break: async (appName: string, machineId: string) => {
          await flyApi(stack, "POST", `/apps/${appName}/machines/${machineId}/stop`);
          await waitFor("the machine to stop", () => machineState(stack, appName, machineId) === "stopped");
        },
        repairEvents: ["machine_started"],
      },
      {
        name: "machine crashed (failed)",
        reason: "machine_failed",
        sameMachine: true,
        break: (appName: string, machineId: string) => {
          stack.emulator.setMachineState(appName, machineId, "failed");
          return Promise.resolve();
        },
        repairEvents: ["machine_started"],
      },
      {
        name: "machine destroyed through the Machines API",
        reason: "machine_missing",
        sameMachine: false,
        break: async (appName: string, machineId: string) => {
          await flyApi(stack, "DELETE", `/apps/${appName}/machines/${machineId}?force=true`);
          await waitFor(
            "the machine to be destroyed",
            () => machineState(stack, appName, machineId) === "destroyed",
          );
        },
        repairEvents: ["machine_created"],
      },
      {
        name: "whole app deleted through the Machines API",
        reason: "app_missing",
        sameMachine: false,
        break: async (appName: string) => {
          await flyApi(stack, "DELETE", `/apps/${appName}`);
          await waitFor(
            "the app to be gone",
            () => !stack.emulator.state().apps.some((a) => a.name === appName),
          );
        },
        repairEvents: ["app_created", "ip_assigned", "ip_assigned", "secrets_set", "machine_created"],
      },
    ];

    for (const c of cases) {
      await t.step(`${c.name} behind our back is repaired by one sweep`, async () => {
        const { user, appName, machineId } = await provisionedUser(stack);
        const seqBefore = (await stack.events(user)).at(-1)!.seq;
        await c.break(appName, machineId);

        const [{ active }] = await stack.sql`
          select count(*)::int as active from public.user_fly_apps where status = 'active'`;
        const report = await stack.sweep();
        assert(!("error" in report.fleet), JSON.stringify(report.fleet));
        assertEquals(report.fleet.rows >= 1, true, "the fleet listing saw the fleet");
        assertEquals(report.observed.checked, active, "every active app observed once");
        assert(report.observed.repaired >= 1, JSON.stringify(report));
        assertEquals(report.observed.repair_failed, 0, JSON.stringify(report));

        const row = await stack.row(user);
        assertEquals([row?.status, row?.health_status, row?.fly_app_name], ["active", "healthy", appName]);
        const apps = await stack.appsOf(user);
        assertEquals(apps.map((a) => a.name), [appName], "still exactly one app");
        assertEquals(liveMachines(apps[0]).map((m) => [m.id, m.state]), [[row?.machine_id, "started"]]);
        assertEquals(row?.machine_id === machineId, c.sameMachine);

        const events = (await stack.events(user)).filter((e) => e.seq > seqBefore);
        assertEquals(events.map((e) => e.event_type), [
          "health_changed",
          "provision_started",
          ...c.repairEvents,
          "health_changed",
          "provision_completed",
          "repaired",
        ]);
        const health = events.filter((e) => e.event_type === "health_changed").map((e) => e.metadata);
        assertEquals(health.map((h) => [h.from, h.to]), [["healthy", "unhealthy"], ["unhealthy", "healthy"]]);
        assertEquals(events[1].metadata.reason, `repair_${c.reason}`);
        assertEquals(events.at(-1)?.metadata.reason, c.reason);

        // Repaired means repaired: the next sweep finds it healthy and changes nothing.
        const quiet = await stack.sweep();
        assertEquals([quiet.observed.repaired, quiet.observed.unhealthy], [0, 0], JSON.stringify(quiet));
        const after = (await stack.events(user)).filter((e) => e.seq > seqBefore);
        assertEquals(after.length, events.length, "no new events");
      });
    }
  } finally {
    await stack.stop();
  }
});
