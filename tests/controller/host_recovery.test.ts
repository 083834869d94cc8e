/**
 * Recovery from a lost host, against a real database and the Machines API emulator: a user whose volume's
 * host dies runs again, after HOST_RECOVERY_AFTER_S, on a new volume from the latest snapshot (the data
 * written after it is lost, and the event says how old it was) and a new machine, with the dead volume and
 * the old machine kept; the same when only the machine's starts are refused with the host error (its volume
 * still reporting its host fine) for that long; without a snapshot the attempt is terminal (an alert) and
 * nothing is replaced.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { type EngineFixture, withEngine } from "../_support/engine_fixture.ts";

const RECOVERY_AFTER_S = 2;
/** Longer, for the tests that make several attempts before the recovery is due (on a loaded machine). */
const SLOW_RECOVERY_AFTER_S = 8;

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

/**
 * A provisioned user whose host dies after the daily snapshot ("snapshotted", then "after the snapshot" is
 * written): recovered after HOST_RECOVERY_AFTER_S; returns the user, the dead volume and host, the old machine.
 */
async function recoveredUser(f: EngineFixture) {
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

  const oldMachineId = (await f.row(user)).machine_id;
  assertEquals((await f.reconcile(user)).outcome, "converged");
  return { user, volumeId, host, oldMachineId };
}

Deno.test("host recovery: after HOST_RECOVERY_AFTER_S, a new volume from the latest snapshot and the machine on it", async () => {
  await withEngine(async (f) => {
    const { user, volumeId, host, oldMachineId } = await recoveredUser(f);
    const row = await f.row(user);
    assert(row.volume_id !== volumeId, "a new volume");
    assert(row.machine_id !== oldMachineId, "a new machine");
    assertEquals(f.emulator.readVolumeData(row.volume_id!), "snapshotted", "the latest snapshot's data");
    const [app] = f.emulator.state().apps;
    const machine = app.machines.find((m) => m.id === row.machine_id)!;
    assertEquals([machine.state, (machine.config as { mounts?: { volume: string }[] }).mounts?.[0].volume], [
      "started",
      row.volume_id,
    ]);
    assert(app.volumes.some((v) => v.id === volumeId), "the dead volume is kept");
    const old = app.machines.find((m) => m.id === oldMachineId)!;
    assertEquals([old.state, (old.config as { mounts?: { volume: string }[] }).mounts?.[0].volume], [
      "stopped",
      volumeId,
    ], "the old machine is kept on the dead volume");
    const [event] = await f.db.sql<{ metadata: Record<string, unknown> }[]>`
      select metadata from public.user_fly_app_events where user_id = ${user} and event_type = 'host_recovered'`;
    assertEquals([event.metadata.from_volume_id, event.metadata.volume_id], [volumeId, row.volume_id]);
    assertEquals(typeof event.metadata.snapshot_age_s, "number");

    assertEquals((await f.reconcile(user)).outcome, "converged", "settled: nothing more to do");
    assertEquals(f.emulator.state().apps[0].volumes.length, 2, "the kept dead volume is no duplicate");
    assertEquals(
      f.emulator.state().apps[0].machines.find((m) => m.id === oldMachineId)?.state,
      "stopped",
      "the kept machine is no duplicate",
    );

    // The keep period ends once the host is back: the old machine goes first, then its volume (after a
    // final snapshot).
    f.emulator.setHostStatus(host, "ok");
    await f.db.sql`update public.user_fly_volume_moves set keep_until = now() - interval '1 second'
                   where user_id = ${user} and kind = 'recovery'`;
    assertEquals((await f.reconcile(user)).outcome, "converged");
    const oldState = f.emulator.state().apps[0].machines.find((m) => m.id === oldMachineId)?.state;
    assert(
      ["destroying", "destroyed"].includes(String(oldState)),
      `the kept machine goes first: ${oldState}`,
    );
    // Fly frees the volume shortly after the destroy; the kept-volume job makes the user due again.
    for (let attempt = 0; f.emulator.state().apps[0].volumes.length > 1; attempt++) {
      assert(attempt < 5, "the kept volume deleted within 5 attempts");
      await new Promise((resolve) => setTimeout(resolve, 500));
      assertEquals((await f.reconcile(user)).outcome, "converged");
    }
    assertEquals(f.emulator.state().apps[0].volumes.map((v) => v.id), [row.volume_id], "then its volume");
    assert((await f.eventTypes(user)).includes("volume_kept_expired"));
    assertEquals((await f.row(user)).machine_id, row.machine_id, "the user's machine untouched");
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

Deno.test("host recovery: starts refused with the host error for HOST_RECOVERY_AFTER_S recover too", async () => {
  await withEngine(async (f) => {
    f.reconfigure({ HOST_RECOVERY_AFTER_S: String(SLOW_RECOVERY_AFTER_S) });
    const { user, volumeId, host } = await provisioned(f);
    const oldMachineId = (await f.row(user)).machine_id;
    f.emulator.writeVolumeData(volumeId, "snapshotted");
    f.emulator.advanceClock(86_400_000); // the daily automatic snapshot
    // Only the machines report the dead host: the volume still says ok.
    f.emulator.setHostStatus(host, "unreachable", { volumes: false });

    const early = await f.reconcile(user);
    assertEquals(early.outcome, "progressing", "not before HOST_RECOVERY_AFTER_S");
    const [move] = await f.db.sql<{ kind: string; state: string; from_volume_id: string }[]>`
      select kind, state, from_volume_id from public.user_fly_volume_moves where user_id = ${user}`;
    assertEquals([move.kind, move.state, move.from_volume_id], ["recovery", "pending", volumeId]);
    assertEquals((await f.reconcile(user)).outcome, "progressing", "the clock runs from the first refusal");
    await new Promise((resolve) => setTimeout(resolve, SLOW_RECOVERY_AFTER_S * 1000 + 200));

    const recovered = await f.reconcile(user);
    assertEquals(recovered.outcome, "converged", JSON.stringify(recovered));
    const row = await f.row(user);
    assert(row.volume_id !== volumeId && row.machine_id !== oldMachineId, "a new volume and machine");
    assertEquals(f.emulator.readVolumeData(row.volume_id!), "snapshotted");
    assert((await f.eventTypes(user)).includes("host_recovered"));
  });
});

Deno.test("host recovery: a start that succeeds again cancels the recovery refused starts recorded", async () => {
  await withEngine(async (f) => {
    f.reconfigure({ HOST_RECOVERY_AFTER_S: String(SLOW_RECOVERY_AFTER_S) });
    const { user, volumeId, host } = await provisioned(f);
    f.emulator.setHostStatus(host, "unreachable", { volumes: false });
    assertEquals((await f.reconcile(user)).outcome, "progressing");
    f.emulator.setHostStatus(host, "ok");
    assertEquals((await f.reconcile(user)).outcome, "converged");
    const [move] = await f.db.sql<{ state: string }[]>`
      select state from public.user_fly_volume_moves where user_id = ${user}`;
    assertEquals(move.state, "canceled");
    assertEquals((await f.row(user)).volume_id, volumeId, "nothing replaced");
  });
});

Deno.test("host recovery: a revert once the host is back returns to the old machine and volume", async () => {
  await withEngine(async (f) => {
    const { user, volumeId, host, oldMachineId } = await recoveredUser(f);
    const recovered = await f.row(user);
    f.emulator.setHostStatus(host, "ok");
    // What `ops restore --revert` records.
    await f.db.sql`insert into public.user_fly_volume_moves
                     (user_id, kind, from_volume_id, to_volume_id, keep_days, requested_by, reason)
                   values (${user}, 'revert', ${recovered
      .volume_id!}, ${volumeId}, 7, 'claimed:test', 'host back')`;
    assertEquals((await f.reconcile(user)).outcome, "converged");
    const row = await f.row(user);
    assertEquals([row.volume_id, row.machine_id], [volumeId, oldMachineId], "the old volume and machine");
    assertEquals(f.emulator.readVolumeData(volumeId), "after the snapshot", "the newer data is back");
    const [app] = f.emulator.state().apps;
    assertEquals(app.machines.find((m) => m.id === oldMachineId)?.state, "started");
    assert(app.volumes.some((v) => v.id === recovered.volume_id), "the recovery's volume is kept in turn");
    assertEquals((await f.reconcile(user)).outcome, "converged", "settled");
  });
});

Deno.test("host recovery: a downgrade deletes the kept volume after its final snapshot, and the move stops counting it", async () => {
  await withEngine(async (f) => {
    const { user, volumeId, host } = await recoveredUser(f);
    f.emulator.setHostStatus(host, "ok");
    const kept = async () =>
      (await f.db.sql<{ kept_state: string }[]>`
        select kept_state from public.user_fly_volume_moves where user_id = ${user} and from_volume_id = ${volumeId}`)
        .map((move) => move.kept_state);
    assertEquals(await kept(), ["kept"]);

    await f.setTier(user, "free");
    let outcome = await f.reconcile(user);
    for (let i = 0; i < 5 && outcome.outcome !== "converged"; i++) outcome = await f.reconcile(user);
    assertEquals(outcome.outcome, "converged");
    const deleted = f.emulator.state().deleted_volumes.find((volume) => volume.id === volumeId);
    assertEquals(deleted?.snapshot?.data, "after the snapshot", "deleted after a final snapshot of its data");
    assertEquals(await kept(), ["deleted"], "no longer counted as kept (usage, status)");
  });
});

Deno.test("host recovery: a host back after the refused starts' recovery fell due ends it; nothing replaced", async () => {
  await withEngine(async (f) => {
    f.reconfigure({ HOST_RECOVERY_AFTER_S: String(RECOVERY_AFTER_S) });
    const { user, volumeId, host } = await provisioned(f);
    const machineId = (await f.row(user)).machine_id;
    f.emulator.writeVolumeData(volumeId, "snapshotted");
    f.emulator.advanceClock(86_400_000); // a snapshot exists: the recovery would trade the newer data for it
    f.emulator.writeVolumeData(volumeId, "newer");
    f.emulator.setHostStatus(host, "unreachable", { volumes: false });
    assertEquals((await f.reconcile(user)).outcome, "progressing");
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_AFTER_S * 1000 + 200));
    f.emulator.setHostStatus(host, "ok");

    assertEquals((await f.reconcile(user)).outcome, "converged");
    const row = await f.row(user);
    assertEquals([row.volume_id, row.machine_id], [volumeId, machineId], "the same volume and machine");
    assertEquals(f.emulator.readVolumeData(volumeId), "newer", "no data traded for an older snapshot");
    const [move] = await f.db.sql<{ state: string }[]>`
      select state from public.user_fly_volume_moves where user_id = ${user}`;
    assertEquals(move.state, "canceled");
    assert(!(await f.eventTypes(user)).includes("host_recovered"));
  });
});
