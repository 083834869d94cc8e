import {
  FlyBadRequestError,
  FlyNotFoundError,
  FlyPreconditionFailedError,
} from "../../supabase/functions/_shared/fly/mod.ts";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { type FlyFixture, machineConfig, withFly } from "./support/fly.ts";

const APP = "vols";

async function appWithVolume({ client }: FlyFixture, region = "sin") {
  await client.apps.create({ name: APP, org_slug: "personal" });
  return await client.volumes.create(APP, { name: "data", region, size_gb: 1 });
}

function mounted(volumeId: string) {
  return { ...machineConfig(), mounts: [{ volume: volumeId, path: "/data" }] };
}

Deno.test("volumes: create, list, get, extend, delete; the app counts them", async () => {
  await withFly(async (fixture) => {
    const { client } = fixture;
    const volume = await appWithVolume(fixture);
    assert(/^vol_[0-9a-z]+$/.test(volume.id), `volume id ${volume.id}`);
    assertEquals([volume.name, volume.region, volume.size_gb, volume.state], ["data", "sin", 1, "created"]);
    assertEquals(volume.attached_machine_id, undefined);
    assertEquals((await client.volumes.list(APP)).map((v) => v.id), [volume.id]);
    assertEquals((await client.apps.get(APP)).volume_count, 1);

    const extended = await client.volumes.extend(APP, volume.id, 5);
    assertEquals(extended.volume.size_gb, 5);
    assertEquals((await client.volumes.get(APP, volume.id)).size_gb, 5);
    assertEquals((await client.volumes.extend(APP, volume.id, 5)).volume.size_gb, 5, "same size: no-op");

    const deleted = await client.volumes.delete(APP, volume.id);
    assertEquals(deleted.state, "destroyed");
    assertEquals(await client.volumes.list(APP), []);
    await assertRejects(() => client.volumes.get(APP, volume.id), FlyNotFoundError);
  });
});

Deno.test("volumes: shrinking, a bad name or size and an unknown volume are refused", async () => {
  await withFly(async (fixture) => {
    const { client } = fixture;
    const volume = await appWithVolume(fixture);
    await client.volumes.extend(APP, volume.id, 3);
    const shrink = await assertRejects(() => client.volumes.extend(APP, volume.id, 2), FlyBadRequestError);
    assert(shrink.message.includes("cannot shrink"), shrink.message);
    assertEquals((await client.volumes.get(APP, volume.id)).size_gb, 3, "a refused shrink changes nothing");
    await assertRejects(
      () => client.volumes.create(APP, { name: "Bad-Name", region: "sin" }),
      FlyBadRequestError,
    );
    await assertRejects(
      () => client.volumes.create(APP, { name: "zero", region: "sin", size_gb: 0 }),
      FlyBadRequestError,
    );
    await assertRejects(() => client.volumes.get(APP, "vol_doesnotexist00"), FlyNotFoundError);
    await assertRejects(() => client.volumes.extend(APP, "vol_doesnotexist00", 9), FlyNotFoundError);
    await assertRejects(() => client.volumes.delete(APP, "vol_doesnotexist00"), FlyNotFoundError);
    assertEquals((await client.volumes.list(APP)).length, 1, "nothing else was created");
  });
});

Deno.test("volumes: a machine mounts a volume of its region; it shows as attached", async () => {
  await withFly(async (fixture) => {
    const { client } = fixture;
    const volume = await appWithVolume(fixture);
    const machine = await client.machines.create(APP, { region: "sin", config: mounted(volume.id) });
    assertEquals(machine.config.mounts, [{ volume: volume.id, path: "/data" }]);
    assertEquals((await client.volumes.get(APP, volume.id)).attached_machine_id, machine.id);
    await client.machines.wait(APP, machine.id, { state: "started", timeoutSeconds: 5 });
    const updated = await client.machines.update(APP, machine.id, { config: mounted(volume.id) });
    assertEquals(updated.config.mounts?.[0].volume, volume.id, "the same machine may keep its volume");
  });
});

Deno.test("volumes: mount errors: other region, attached elsewhere, unknown volume, relative path", async () => {
  await withFly(async (fixture) => {
    const { client } = fixture;
    const volume = await appWithVolume(fixture);
    const region = await assertRejects(
      () => client.machines.create(APP, { region: "iad", config: mounted(volume.id) }),
      FlyBadRequestError,
    );
    assert(region.message.includes("is in region sin"), region.message);
    const first = await client.machines.create(APP, { region: "sin", config: mounted(volume.id) });
    const attached = await assertRejects(
      () => client.machines.create(APP, { region: "sin", config: mounted(volume.id) }),
      FlyPreconditionFailedError,
    );
    assert(attached.message.includes(first.id), attached.message);
    await assertRejects(
      () => client.machines.create(APP, { region: "sin", config: mounted("vol_doesnotexist00") }),
      FlyBadRequestError,
    );
    const other = await client.volumes.create(APP, { name: "data", region: "sin" });
    await assertRejects(
      () =>
        client.machines.create(APP, {
          region: "sin",
          config: { ...machineConfig(), mounts: [{ volume: other.id, path: "data" }] },
        }),
      FlyBadRequestError,
    );
    const machines = await client.machines.list(APP);
    assertEquals(machines.map((m) => m.id), [first.id], "refused creates made no machine");
    await assertRejects(() => client.volumes.delete(APP, volume.id), FlyPreconditionFailedError);
  });
});

Deno.test("volumes: survive the machine's destroy, go with the app", async () => {
  await withFly(async (fixture) => {
    const { client, emulator } = fixture;
    const volume = await appWithVolume(fixture);
    const machine = await client.machines.create(APP, { region: "sin", config: mounted(volume.id) });
    await client.machines.delete(APP, machine.id, { force: true });
    await client.machines.wait(APP, machine.id, { state: "destroyed", timeoutSeconds: 5 });
    const kept = await client.volumes.get(APP, volume.id);
    assertEquals([kept.state, kept.attached_machine_id], ["created", undefined]);
    const next = await client.machines.create(APP, { region: "sin", config: mounted(volume.id) });
    assertEquals((await client.volumes.get(APP, volume.id)).attached_machine_id, next.id);
    assertEquals(emulator.state().apps[0].volumes.map((v) => v.id), [volume.id]);
    await client.apps.delete(APP);
    assertEquals(emulator.state().apps, []);
    await client.apps.create({ name: APP, org_slug: "personal" });
    assertEquals(await client.volumes.list(APP), [], "a new app of the same name starts without volumes");
  });
});
