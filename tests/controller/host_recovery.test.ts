/**
 * Recovery from a lost host, against a real database and the Machines API emulator: a user whose volume's
 * host dies runs again, after HOST_RECOVERY_AFTER_S, on a new volume from the latest snapshot (the data
 * written after it is lost, and the event says how old it was), with the dead volume kept; without a
 * snapshot the attempt is terminal (an alert) and nothing is replaced.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { type EngineFixture, withEngine } from "../_support/engine_fixture.ts";

const RECOVERY_AFTER_S = 2;

/** A pro user on a 1 GB volume plan, provisioned; returns the user and the volume's host. */
async function provisioned(f: EngineFixture): Promise<{ user: string; volumeId: string; host: string }> {
  await f.db
    .sql`update public.fly_plans set volume_size_gb = 1, volume_mount_path = '/data' where tier = 'pro'`;
  const [user] = await f.subscribe("pro");
  assertEquals((await f.reconcile(user)).outcome, "converged");
  const volumeId = (await f.row(user)).volume_id!;
  const host = f.emulator.state().apps.flatMap((app) => app.volumes).find((v) => v.id === volumeId)!.host;
  return { user, volumeId, host };
}

Deno.test("host recovery: after HOST_RECOVERY_AFTER_S, a new volume from the latest snapshot and the machine on it", async () => {
  await withEngine(async (f) => {
    f.reconfigure({ HOST_RECOVERY_AFTER_S: String(RECOVERY_AFTER_S) });
    const { user, volumeId, host } = await provisioned(f);
    f.emulator.writeVolumeData(volumeId, "snapshotted");
    f.emulator.advanceClock(86_400_000); // the daily automatic snapshot
    f.emulator.writeVolumeData(volumeId, "after the snapshot");
    f.emulator.setHostStatus(host, "unreachable");

    const early = await f.reconcile(user);
    assertEquals(early.outcome, "progressing", "not before HOST_RECOVERY_AFTER_S");
    assertEquals((await f.row(user)).volume_id, volumeId);
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_AFTER_S * 1000 + 200));

    assertEquals((await f.reconcile(user)).outcome, "converged");
    const row = await f.row(user);
    assert(row.volume_id !== volumeId, "a new volume");
    assertEquals(f.emulator.readVolumeData(row.volume_id!), "snapshotted", "the latest snapshot's data");
    const [app] = f.emulator.state().apps;
    const machine = app.machines.find((m) => m.id === row.machine_id)!;
    assertEquals([machine.state, (machine.config as { mounts?: { volume: string }[] }).mounts?.[0].volume], [
      "started",
      row.volume_id,
    ]);
    assert(app.volumes.some((v) => v.id === volumeId), "the dead volume is kept");
    const [event] = await f.db.sql<{ metadata: Record<string, unknown> }[]>`
      select metadata from public.user_fly_app_events where user_id = ${user} and event_type = 'host_recovered'`;
    assertEquals([event.metadata.from_volume_id, event.metadata.volume_id], [volumeId, row.volume_id]);
    assertEquals(typeof event.metadata.snapshot_age_s, "number");

    assertEquals((await f.reconcile(user)).outcome, "converged", "settled: nothing more to do");
    assertEquals(f.emulator.state().apps[0].volumes.length, 2, "the kept dead volume is no duplicate");
  });
});

Deno.test("host recovery: without a snapshot, terminal (an alert) and nothing replaced", async () => {
  await withEngine(async (f) => {
    f.reconfigure({ HOST_RECOVERY_AFTER_S: String(RECOVERY_AFTER_S) });
    const { user, volumeId, host } = await provisioned(f);
    f.emulator.setHostStatus(host, "unreachable");
    assertEquals((await f.reconcile(user)).outcome, "progressing");
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_AFTER_S * 1000 + 200));
    const result = await f.reconcile(user);
    assertEquals(result.outcome, "terminal");
    const row = await f.row(user);
    assertEquals([row.status, row.volume_id], ["error", volumeId]);
    assert(String(row.error_message).includes("no snapshot"), String(row.error_message));
    assertEquals(
      f.emulator.state().apps[0].volumes.map((v) => v.id),
      [volumeId],
      "no empty volume in its place",
    );
    assert((await f.eventTypes(user)).includes("alert_raised"));
  });
});
