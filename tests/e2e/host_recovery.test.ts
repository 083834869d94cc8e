/**
 * End to end through the local stack and the health sweep: a user's host is marked dead over the emulator's
 * control route (`PUT /_emulator/hosts/{host}`). Within `HOST_RECOVERY_AFTER_S` plus one sweep the user runs
 * on a new machine and a new volume carrying the last snapshot's fingerprint, the old machine and volume are
 * kept (for a revert), and an alert goes out (`alert_raised` and the webhook). Without a snapshot: an alert,
 * and nothing replaced (never an empty volume in place of the dead one).
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { startHttpRecorder } from "../_support/http_recorder.ts";
import { waitFor } from "../_support/wait.ts";
import { type Stack, startStack } from "./_support.ts";

const RECOVERY_AFTER_S = 4;

/** Calls one of the emulator's control routes over HTTP; returns the JSON answer. */
async function control(stack: Stack, method: string, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${stack.emulator.url}/_emulator${path}`, {
    method,
    body: JSON.stringify(body),
  });
  assertEquals(response.status, 200, `${method} ${path}: ${await response.clone().text()}`);
  return await response.json();
}

/** A user on the 1 GB volume plan, settled; returns the row, its volume and that volume's host. */
async function userOnVolume(stack: Stack) {
  const [user] = await stack.newUsers(1);
  await stack.setTier(user, "pro");
  const row = await stack.waitSettled(user);
  assertEquals([row.status, row.health_status], ["active", "healthy"]);
  const [{ volume_id: volumeId }] = await stack.sql<{ volume_id: string }[]>`
    select volume_id from public.user_fly_apps where user_id = ${user}`;
  const state = await stack.flyControl.state();
  const host = state.apps.flatMap((app) => app.volumes).find((volume) => volume.id === volumeId)!.host;
  return { user, row, volumeId, host };
}

/** The user's app as the emulator holds it. */
async function emulatedApp(stack: Stack, appName: string) {
  return (await stack.flyControl.state()).apps.find((app) => app.name === appName)!;
}

/** Marks the host dead, runs the sweep that notices it, waits out HOST_RECOVERY_AFTER_S, runs one more sweep. */
async function killHostAndSweep(stack: Stack, host: string): Promise<void> {
  await control(stack, "PUT", `/hosts/${host}`, { status: "unreachable" });
  const noticed = await stack.sweep();
  assert(noticed.observed.unhealthy + noticed.reconciled.attempted >= 1, JSON.stringify(noticed));
  await new Promise((resolve) => setTimeout(resolve, RECOVERY_AFTER_S * 1000 + 500));
  await stack.sweep();
}

Deno.test("host recovery through the sweep: a new machine and volume from the last snapshot, with an alert; without a snapshot nothing replaced", async (t) => {
  const alerts = startHttpRecorder();
  const stack = await startStack({
    functionEnv: { ALERT_WEBHOOK_URL: alerts.url, HOST_RECOVERY_AFTER_S: String(RECOVERY_AFTER_S) },
  });
  try {
    await stack.sql`update public.fly_plans set volume_size_gb = 1, volume_mount_path = '/data'
                    where tier = 'pro'`;

    await t.step("with a snapshot: recovered within HOST_RECOVERY_AFTER_S plus one sweep", async () => {
      const { user, row, volumeId, host } = await userOnVolume(stack);
      const appName = row.fly_app_name!;
      await control(stack, "PUT", `/volumes/${volumeId}/data`, { data: "in the daily snapshot" });
      await control(stack, "POST", "/clock", { advance_ms: 86_400_000 }); // the daily automatic snapshot
      await control(stack, "PUT", `/volumes/${volumeId}/data`, { data: "written after it" });

      await killHostAndSweep(stack, host);

      const recovered = await stack.row(user);
      assertEquals([recovered?.status, recovered?.health_status], ["active", "healthy"]);
      assert(recovered?.machine_id !== row.machine_id, "a new machine");
      const [{ volume_id: newVolume }] = await stack.sql<{ volume_id: string }[]>`
        select volume_id from public.user_fly_apps where user_id = ${user}`;
      assert(newVolume !== volumeId, "a new volume");
      const { data } = await control(stack, "GET", `/volumes/${newVolume}/data`, undefined) as {
        data: string;
      };
      assertEquals(data, "in the daily snapshot", "the last snapshot's fingerprint");

      const app = await emulatedApp(stack, appName);
      const machine = (id: string | null | undefined) => app.machines.find((m) => m.id === id);
      assertEquals(machine(recovered?.machine_id)?.state, "started");
      const mounts = (machine(recovered?.machine_id)?.config as { mounts?: { volume: string }[] }).mounts;
      assertEquals(mounts?.map((mount) => mount.volume), [newVolume]);
      const old = machine(row.machine_id);
      assert(old && old.state !== "destroyed", `the old machine is kept: ${old?.state}`);
      assertEquals(
        (old.config as { mounts?: { volume: string }[] }).mounts?.map((mount) => mount.volume),
        [volumeId],
        "the old machine stays on the dead volume",
      );
      assert(app.volumes.some((volume) => volume.id === volumeId), "the dead volume is kept");

      const events = await stack.events(user);
      const recoveredEvent = events.find((event) => event.event_type === "host_recovered");
      assertEquals(recoveredEvent?.metadata.from_volume_id, volumeId);
      assertEquals(typeof recoveredEvent?.metadata.snapshot_age_s, "number");
      const raised = events.find((event) => event.event_type === "alert_raised");
      assertEquals(raised?.metadata.reason, "host_recovered");
      const alert = await waitFor(
        "the alert webhook",
        () => alerts.requests.find((r) => r.body.includes(user)),
      );
      assertEquals(JSON.parse(alert.body).reason, "host_recovered");

      // Settled: the next sweep neither repairs the kept machine away nor replaces anything again.
      await stack.sweep();
      const after = await emulatedApp(stack, appName);
      assertEquals(after.machines.find((m) => m.id === row.machine_id)?.state, old.state, "still kept");
      assertEquals(after.volumes.length, 2);
      assertEquals((await stack.row(user))?.machine_id, recovered?.machine_id);
    });

    await t.step("without a snapshot: an alert and nothing replaced", async () => {
      const { user, row, volumeId, host } = await userOnVolume(stack);
      await killHostAndSweep(stack, host);

      const failed = await stack.row(user);
      assertEquals([failed?.status, failed?.machine_id], ["error", row.machine_id]);
      assert(String(failed?.error_message).includes("no snapshot"), String(failed?.error_message));
      const app = await emulatedApp(stack, row.fly_app_name!);
      assertEquals(app.volumes.map((volume) => volume.id), [volumeId], "no empty volume in its place");
      assertEquals(app.machines.filter((m) => m.state !== "destroyed").map((m) => m.id), [row.machine_id]);
      const types = (await stack.events(user)).map((event) => event.event_type);
      assert(types.includes("alert_raised") && !types.includes("host_recovered"), types.join(", "));
      const alert = await waitFor(
        "the alert webhook",
        () => alerts.requests.find((r) => r.body.includes(user)),
      );
      assertEquals(JSON.parse(alert.body).reason, "permanent_failure");
    });
  } finally {
    await stack.stop();
    await alerts.close();
  }
});
