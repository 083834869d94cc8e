import {
  FlyBadRequestError,
  FlyNotFoundError,
  FlyPreconditionFailedError,
} from "../../supabase/functions/_shared/fly/mod.ts";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { waitFor } from "../_support/wait.ts";
import { type FlyFixture, machineConfig, withFly } from "./support/fly.ts";

const APP = "snaps";
const DAY_MS = 86_400_000;

async function appWithVolume({ client }: FlyFixture, sizeGb = 2) {
  await client.apps.create({ name: APP, org_slug: "personal" });
  return await client.volumes.create(APP, { name: "data", region: "sin", size_gb: sizeGb });
}

/** Takes an on-demand snapshot and waits until it is `created`; returns its id. */
async function snapshotNow({ client }: FlyFixture, volumeId: string): Promise<string> {
  const before = new Set((await client.volumes.listSnapshots(APP, volumeId)).map((s) => s.id));
  await client.volumes.createSnapshot(APP, volumeId);
  const created = await waitFor("the new snapshot to be created", async () => {
    const fresh = (await client.volumes.listSnapshots(APP, volumeId)).find((s) => !before.has(s.id));
    return fresh?.status === "created" ? fresh : undefined;
  });
  return created.id;
}

Deno.test("snapshots: on demand, creating then created; a restore carries the data; the size rule", async () => {
  await withFly(async (fixture) => {
    const { client, emulator } = fixture;
    const volume = await appWithVolume(fixture);
    assertEquals([volume.snapshot_retention, volume.auto_backup_enabled, volume.host_status], [
      5,
      true,
      "ok",
    ]);
    emulator.writeVolumeData(volume.id, "first");
    await client.volumes.createSnapshot(APP, volume.id);
    const [pending] = await client.volumes.listSnapshots(APP, volume.id);
    assertEquals(pending.status, "creating");
    const snapshotId = await snapshotNow(fixture, volume.id);
    const [snapshot] = (await client.volumes.listSnapshots(APP, volume.id)).filter((s) =>
      s.id === snapshotId
    );
    assertEquals([snapshot.volume_size, snapshot.retention_days], [2, 5]);
    emulator.writeVolumeData(volume.id, "second");

    const small = await assertRejects(
      () => client.volumes.create(APP, { name: "data", region: "sin", size_gb: 1, snapshot_id: snapshotId }),
      FlyBadRequestError,
    );
    assert(small.message.includes("at least"), small.message);
    await assertRejects(
      () => client.volumes.create(APP, { name: "data", region: "ams", snapshot_id: snapshotId }),
      FlyBadRequestError,
    );
    await assertRejects(
      () => client.volumes.create(APP, { name: "data", region: "sin", snapshot_id: "vs_doesnotexist" }),
      FlyNotFoundError,
    );
    await assertRejects(
      () =>
        client.volumes.create(APP, {
          name: "data",
          region: "sin",
          snapshot_id: snapshotId,
          source_volume_id: volume.id,
        }),
      FlyBadRequestError,
    );
    assertEquals((await client.volumes.list(APP)).length, 1, "refused creates make nothing");

    const restored = await client.volumes.create(APP, {
      name: "data",
      region: "sin",
      size_gb: 3,
      snapshot_id: snapshotId,
    });
    assertEquals(restored.size_gb, 3);
    assertEquals(emulator.readVolumeData(restored.id), "first", "the snapshot's data, not the volume's now");
    const forked = await client.volumes.create(APP, {
      name: "data",
      region: "sin",
      source_volume_id: volume.id,
    });
    assertEquals([forked.size_gb, emulator.readVolumeData(forked.id)], [3, "second"]);
    await assertRejects(
      () =>
        client.volumes.create(APP, { name: "data", region: "sin", size_gb: 1, source_volume_id: volume.id }),
      FlyBadRequestError,
    );
  });
});

Deno.test("snapshots: a creating snapshot cannot be restored; snapshots outlive their volume and app", async () => {
  await withFly(async (fixture) => {
    const { client, emulator } = fixture;
    const volume = await appWithVolume(fixture);
    emulator.writeVolumeData(volume.id, "kept");
    emulator.holdSnapshots(true);
    await client.volumes.createSnapshot(APP, volume.id);
    const [held] = await client.volumes.listSnapshots(APP, volume.id);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assertEquals((await client.volumes.listSnapshots(APP, volume.id))[0].status, "creating", "held");
    await assertRejects(
      () => client.volumes.create(APP, { name: "data", region: "sin", snapshot_id: held.id }),
      FlyPreconditionFailedError,
    );
    emulator.holdSnapshots(false);
    await waitFor(
      "the released snapshot",
      async () => (await client.volumes.listSnapshots(APP, volume.id))[0].status === "created",
    );

    await client.volumes.delete(APP, volume.id);
    assertEquals((await client.volumes.listSnapshots(APP, volume.id)).map((s) => s.id), [held.id]);
    await client.apps.delete(APP);
    await client.apps.create({ name: APP, org_slug: "personal" });
    const restored = await client.volumes.create(APP, { name: "data", region: "sin", snapshot_id: held.id });
    assertEquals([restored.size_gb, emulator.readVolumeData(restored.id)], [3, "kept"]);
  });
});

Deno.test("snapshots: daily automatic ones while auto-backup is on, expired after their retention", async () => {
  await withFly(async (fixture) => {
    const { client, emulator } = fixture;
    const volume = await appWithVolume(fixture);
    const updated = await client.volumes.update(APP, volume.id, { snapshot_retention: 2 });
    assertEquals([updated.snapshot_retention, updated.auto_backup_enabled], [2, true]);
    await assertRejects(
      () => client.volumes.update(APP, volume.id, { snapshot_retention: 61 }),
      FlyBadRequestError,
    );
    emulator.writeVolumeData(volume.id, "day0");
    emulator.advanceClock(DAY_MS);
    const [first] = await client.volumes.listSnapshots(APP, volume.id);
    assertEquals([first.status, first.retention_days], ["created", 2]);
    emulator.advanceClock(DAY_MS);
    assertEquals((await client.volumes.listSnapshots(APP, volume.id)).length, 2);
    emulator.advanceClock(DAY_MS);
    const kept = await client.volumes.listSnapshots(APP, volume.id);
    assertEquals(kept.length, 2, "the first one expired after two days");
    assert(!kept.some((s) => s.id === first.id));

    await client.volumes.update(APP, volume.id, { auto_backup_enabled: false });
    emulator.advanceClock(3 * DAY_MS);
    assertEquals(await client.volumes.listSnapshots(APP, volume.id), [], "none taken, the old ones expired");
  });
});

Deno.test("snapshots: a dead host: unreachable volume, its machine stops and cannot start", async () => {
  await withFly(async (fixture) => {
    const { client, emulator } = fixture;
    const volume = await appWithVolume(fixture);
    const machine = await client.machines.create(APP, {
      region: "sin",
      config: { ...machineConfig(), mounts: [{ volume: volume.id, path: "/data" }] },
    });
    await client.machines.wait(APP, machine.id, { state: "started", timeoutSeconds: 5 });
    const host = emulator.state().apps[0].volumes[0].host;
    emulator.setHostStatus(host, "unreachable");

    assertEquals((await client.volumes.get(APP, volume.id)).host_status, "unreachable");
    const down = await client.machines.get(APP, machine.id);
    assertEquals([down.state, down.host_status], ["stopped", "unreachable"]);
    const start = await assertRejects(
      () => client.machines.start(APP, machine.id),
      FlyPreconditionFailedError,
    );
    assert(start.message.includes("host is unreachable"), start.message);
    await assertRejects(() => client.volumes.createSnapshot(APP, volume.id), FlyPreconditionFailedError);
    await client.machines.delete(APP, machine.id, { force: true });
    await client.machines.wait(APP, machine.id, { state: "destroyed", timeoutSeconds: 5 });
    await assertRejects(
      () =>
        client.machines.create(APP, {
          region: "sin",
          config: { ...machineConfig(), mounts: [{ volume: volume.id, path: "/data" }] },
        }),
      FlyPreconditionFailedError,
    );

    emulator.setHostStatus(host, "ok");
    assertEquals((await client.volumes.get(APP, volume.id)).host_status, "ok");
  });
});

Deno.test("snapshots: the deletion log records each deleted volume with the newest created snapshot of it then", async () => {
  await withFly(async (fixture) => {
    const { client, emulator } = fixture;
    const bare = await appWithVolume(fixture);
    emulator.writeVolumeData(bare.id, "never snapshotted");
    await client.volumes.delete(APP, bare.id);
    const saved = await client.volumes.create(APP, { name: "data", region: "sin", size_gb: 1 });
    const refused = (() => {
      try {
        emulator.writeVolumeData(saved.id, "x", { byMachine: true });
        return "written";
      } catch (error) {
        return (error as Error).message;
      }
    })();
    assert(
      refused.includes("not mounted by a started machine"),
      `a machine-less write is refused: ${refused}`,
    );
    emulator.writeVolumeData(saved.id, "first");
    const first = await snapshotNow(fixture, saved.id);
    emulator.writeVolumeData(saved.id, "second");
    emulator.holdSnapshots(true);
    await client.volumes.createSnapshot(APP, saved.id); // still creating when the app goes
    await client.apps.delete(APP);

    const log = emulator.state().deleted_volumes;
    assertEquals(
      log.map((deleted) => [deleted.id, deleted.by, deleted.data, deleted.snapshot?.id ?? null]),
      [[bare.id, "volume_delete", "never snapshotted", null], [saved.id, "app_delete", "second", first]],
    );
    assertEquals(log[1].snapshot?.data, "first", "the snapshot holds the data it was taken with");
  });
});
