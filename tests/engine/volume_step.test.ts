/** The volume step and the machine spec's mounts, against the emulator. */
import type { Plan } from "../../supabase/functions/_shared/db/user_fly_apps.ts";
import type { ReconcileContext } from "../../supabase/functions/_shared/engine/context.ts";
import { PermanentReconcileError, RetryLaterError } from "../../supabase/functions/_shared/engine/failure.ts";
import { configDrift, desiredMachineConfig } from "../../supabase/functions/_shared/engine/machine_spec.ts";
import {
  deleteVolumes,
  ensureVolume,
  VOLUME_NAME,
} from "../../supabase/functions/_shared/engine/volume_step.ts";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { type EngineFixture, withEngine } from "../_support/engine_fixture.ts";

const APP = "vol-step-app";

const VOLUME_PLAN: Plan = {
  tier: "pro",
  region: "sin",
  cpu_kind: "shared",
  cpus: 1,
  memory_mb: 256,
  image: null,
  public_services: false,
  monthly_cost_estimate_usd: null,
  volume_size_gb: 1,
  volume_mount_path: "/data",
};

/** A context on a fresh pro user's row and an app in the emulator. */
async function setUp(fixture: EngineFixture): Promise<() => ReconcileContext> {
  const [userId] = await fixture.subscribe("pro");
  const row = await fixture.row(userId);
  await fixture.deps.fly.apps.create({ name: APP, org_slug: fixture.emulator.orgSlug });
  return () => ({
    ...fixture.deps,
    row,
    deadline: Date.now() + 20_000,
    signal: new AbortController().signal,
    patch: {},
    events: [],
  });
}

function volumesOf(fixture: EngineFixture) {
  return fixture.emulator.state().apps.find((app) => app.name === APP)?.volumes ?? [];
}

Deno.test("volume step: created once in the plan's region, found again, extended when the plan grows", async () => {
  await withEngine(async (fixture) => {
    const context = await setUp(fixture);
    const first = context();
    const created = await ensureVolume(first, { appName: APP, plan: VOLUME_PLAN });
    assertEquals(
      [created?.volume.name, created?.volume.region, created?.volume.size_gb, created?.mount.path],
      [VOLUME_NAME, "sin", 1, "/data"],
    );
    assertEquals(first.events.map((e) => e.event_type), ["volume_created"]);

    const again = context();
    const found = await ensureVolume(again, { appName: APP, plan: VOLUME_PLAN });
    assertEquals([found?.volume.id, again.events], [created?.volume.id, []]);

    const grown = context();
    const extended = await ensureVolume(grown, { appName: APP, plan: { ...VOLUME_PLAN, volume_size_gb: 4 } });
    assertEquals([extended?.volume.id, extended?.volume.size_gb], [created?.volume.id, 4]);
    assertEquals(grown.events.map((e) => [e.event_type, e.status, e.metadata?.from_gb, e.metadata?.to_gb]), [
      ["volume_extended", "ok", 1, 4],
    ]);
    assertEquals(volumesOf(fixture).map((v) => [v.id, v.size_gb]), [[created?.volume.id, 4]]);
    // An older host grows the filesystem only on restart: a warning event says so (no restart is made).
    fixture.emulator.setVolumeExtendNeedsRestart(true);
    const older = context();
    await ensureVolume(older, { appName: APP, plan: { ...VOLUME_PLAN, volume_size_gb: 5 } });
    assertEquals(older.events.map((e) => [e.event_type, e.status, e.metadata?.needs_restart]), [
      ["volume_extended", "warning", true],
    ]);
    assert(older.events[0].error_details?.includes("restart"), older.events[0].error_details);
    assertEquals(volumesOf(fixture).map((v) => v.size_gb), [5]);
    assertEquals(
      await ensureVolume(context(), { appName: APP, plan: { ...VOLUME_PLAN, volume_size_gb: null } }),
      null,
    );
  });
});

Deno.test("volume step: shrinking and a region change are refused permanently, nothing changes", async () => {
  await withEngine(async (fixture) => {
    const context = await setUp(fixture);
    const { volume } =
      (await ensureVolume(context(), { appName: APP, plan: { ...VOLUME_PLAN, volume_size_gb: 3 } }))!;
    const shrink = await assertRejects(
      () => ensureVolume(context(), { appName: APP, plan: VOLUME_PLAN }),
      PermanentReconcileError,
    );
    assert(shrink.message.includes("cannot shrink"), shrink.message);
    const move = await assertRejects(
      () =>
        ensureVolume(context(), { appName: APP, plan: { ...VOLUME_PLAN, region: "ams", volume_size_gb: 3 } }),
      PermanentReconcileError,
    );
    assert(move.message.includes("would not follow"), move.message);
    assertEquals(volumesOf(fixture).map((v) => [v.id, v.region, v.size_gb]), [[volume.id, "sin", 3]]);

    const moved = await ensureVolume(context(), {
      appName: APP,
      plan: { ...VOLUME_PLAN, region: "ams", volume_size_gb: 3 },
      allowRegionChange: true,
    });
    assertEquals(moved?.volume.region, "ams");
    assertEquals(volumesOf(fixture).map((v) => v.region), ["ams"], "the unused old volume is deleted");
  });
});

Deno.test("volume step: a create whose answer is lost is adopted, not duplicated", async () => {
  await withEngine(async (fixture) => {
    const context = await setUp(fixture);
    fixture.emulator.faults.add({ operation: "Volumes_create", action: { type: "drop-response" }, times: 1 });
    const ctx = context();
    const ensured = await ensureVolume(ctx, { appName: APP, plan: VOLUME_PLAN });
    assertEquals(volumesOf(fixture).map((v) => v.id), [ensured?.volume.id]);
    assert(ctx.events[0].metadata?.recovered_after, "the event says the create was recovered");
    assertEquals(fixture.emulator.requestCounts().Volumes_create, { dropped: 1 });
  });
});

Deno.test("volume step: the machine mounts it; volumes are deleted once the machine is gone", async () => {
  await withEngine(async (fixture) => {
    const context = await setUp(fixture);
    const { fly } = fixture.deps;
    const ensured = (await ensureVolume(context(), { appName: APP, plan: VOLUME_PLAN }))!;
    const spec = { userId: "u1", plan: VOLUME_PLAN, image: "registry.example.com/a:1", createToken: "t" };
    const config = desiredMachineConfig({ ...spec, volume: ensured.mount });
    assertEquals(config.mounts, [{ volume: ensured.volume.id, path: "/data" }]);
    assertEquals(configDrift(config, desiredMachineConfig(spec)), ["mounts"], "a missing mount is drift");

    const machine = await fly.machines.create(APP, { region: "sin", config });
    assertEquals(configDrift(machine.config, config), [], "the API's mount echo matches the desired one");
    await assertRejects(() => deleteVolumes(context(), APP), RetryLaterError);
    await fly.machines.delete(APP, machine.id, { force: true });
    await fly.machines.wait(APP, machine.id, { state: "destroyed", timeoutSeconds: 5 });
    const ctx = context();
    assertEquals(await deleteVolumes(ctx, APP), 1);
    assertEquals(ctx.events.map((e) => [e.event_type, e.metadata?.volume_id]), [
      ["volume_snapshotted", ensured.volume.id],
      ["volume_deleted", ensured.volume.id],
    ], "deleted only after its final snapshot");
    assertEquals(volumesOf(fixture), []);
    await fly.apps.delete(APP);
    assertEquals(await deleteVolumes(context(), APP), 0, "a deleted app has no volumes left");
  });
});
