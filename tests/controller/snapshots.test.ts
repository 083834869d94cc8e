/**
 * Volume data through deletions and re-upgrades, against a real database and the Machines API emulator:
 * the final snapshot before a volume is deleted (never deleted while the snapshot is still being taken),
 * the snapshots table, the restore on a re-upgrade (and the empty volume when no snapshot is within its
 * retention), and the plan's data policy set at create and converged.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { type EngineFixture, withEngine } from "../_support/engine_fixture.ts";
import { AdminRepository } from "../../supabase/functions/_shared/db/admin.ts";

/** The only app in the emulator. */
function theApp(f: EngineFixture) {
  const apps = f.emulator.state().apps;
  assertEquals(apps.length, 1, "exactly one app");
  return apps[0];
}

/** A pro user on a plan with a 1 GB volume, provisioned, whose volume holds `data`. */
async function provisionedWithData(f: EngineFixture, data: string): Promise<string> {
  await f.db
    .sql`update public.fly_plans set volume_size_gb = 1, volume_mount_path = '/data' where tier = 'pro'`;
  const [user] = await f.subscribe("pro");
  assertEquals((await f.reconcile(user)).outcome, "converged");
  f.emulator.writeVolumeData((await f.row(user)).volume_id!, data);
  return user;
}

async function snapshotRows(f: EngineFixture, user: string) {
  return await f.db.sql<
    {
      snapshot_id: string | null;
      volume_id: string;
      status: string;
      reason: string;
      expires_at: Date | null;
    }[]
  >`select snapshot_id, volume_id, status, reason, expires_at from public.user_fly_volume_snapshots
    where user_id = ${user} order by id`;
}

Deno.test("final snapshot: the volume is not deleted while its snapshot is creating; then deleted after it", async () => {
  await withEngine(async (f) => {
    const user = await provisionedWithData(f, "first");
    const volumeId = (await f.row(user)).volume_id!;
    f.emulator.holdSnapshots(true);
    await f.setTier(user, "free");
    for (let attempt = 0; attempt < 2; attempt++) {
      const result = await f.reconcile(user, 1_500);
      assertEquals(result.outcome, "progressing", `attempt ${attempt}: waiting for the snapshot`);
      const app = theApp(f);
      assertEquals(app.volumes.map((v) => v.id), [volumeId], "the volume is still there");
      assertEquals(app.machines.map((m) => m.state), ["destroyed"], "the machine is gone");
    }
    const held = f.emulator.state().snapshots;
    assertEquals(
      held.map((s) => [s.volume_id, s.status]),
      [[volumeId, "creating"]],
      "one snapshot, not one per attempt",
    );
    assertEquals((await snapshotRows(f, user)).map((r) => r.status), ["requested"]);
    assert(!(await f.eventTypes(user)).includes("volume_deleted"));

    f.emulator.holdSnapshots(false);
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals(f.emulator.state().apps, [], "app and volume deleted");
    const [row] = await snapshotRows(f, user);
    assertEquals([row.snapshot_id, row.volume_id, row.status, row.reason], [
      held[0].id,
      volumeId,
      "created",
      "final",
    ]);
    assert(
      row.expires_at && row.expires_at.getTime() > Date.now() + 4 * 86_400_000,
      "kept 5 days (Fly's default)",
    );
    const types = await f.eventTypes(user);
    assert(types.indexOf("volume_snapshotted") < types.indexOf("volume_deleted"), types.join(", "));
    assert(types.indexOf("volume_deleted") < types.indexOf("app_deleted"), types.join(", "));

    // Its storage is in usage, though the user has no app any more (priced at snapshot_gb, $0.08/GB-month).
    await f.db
      .sql`update public.user_fly_volume_snapshots set size_bytes = 5 * 1024.0 ^ 3 where user_id = ${user}`;
    const month = `${new Date().toISOString().slice(0, 7)}-01`;
    const { users } = await new AdminRepository(f.db.sql).usage(month);
    const usage = users.find((u) => u.user_id === user);
    assertEquals([usage?.snapshot_gb, usage?.snapshot_monthly_usd], [5, 0.4]);
  });
});

Deno.test("restore: a re-upgrade within the retention gets a volume from the final snapshot; after it, an empty one", async () => {
  await withEngine(async (f) => {
    const user = await provisionedWithData(f, "precious");
    await f.setTier(user, "free");
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals(f.emulator.state().apps, []);

    await f.setTier(user, "pro");
    assertEquals((await f.reconcile(user)).outcome, "converged");
    const restored = theApp(f).volumes[0];
    assertEquals([restored.data, restored.size_gb, restored.region], ["precious", 1, "sin"]);
    const [event] = await f.db.sql<{ metadata: Record<string, unknown> }[]>`
      select metadata from public.user_fly_app_events where user_id = ${user} and event_type = 'volume_restored'`;
    assertEquals(event.metadata.volume_id, restored.id);
    assert(typeof event.metadata.snapshot_age_s === "number" && event.metadata.snapshot_age_s < 60);

    // Downgrade again; this time the final snapshot is past its retention when the user comes back.
    await f.setTier(user, "free");
    assertEquals((await f.reconcile(user)).outcome, "converged");
    await f.db.sql`update public.user_fly_volume_snapshots set expires_at = now() - interval '1 second'
                   where user_id = ${user}`;
    await f.setTier(user, "pro");
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals(theApp(f).volumes[0].data, null, "an empty volume");
    const types = await f.eventTypes(user);
    assertEquals(types.filter((t) => t === "volume_restored").length, 1);
    assertEquals(types.filter((t) => t === "volume_restore_unavailable").length, 1, types.join(", "));
  });
});

Deno.test("data policy: the plan's retention and auto-backup are set at create and converged", async () => {
  await withEngine(async (f) => {
    await f.db.sql`update public.fly_plans set volume_snapshot_retention_days = 14, volume_auto_backup = false
                   where tier = 'pro'`;
    const user = await provisionedWithData(f, "x");
    const volume = () => theApp(f).volumes[0];
    assertEquals([volume().snapshot_retention, volume().auto_backup_enabled], [14, false]);
    assert(!(await f.eventTypes(user)).includes("volume_updated"), "set at create, not updated after");

    await f.db.sql`update public.fly_plans set volume_snapshot_retention_days = 30, volume_auto_backup = true
                   where tier = 'pro'`;
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals([volume().snapshot_retention, volume().auto_backup_enabled], [30, true]);
    assertEquals((await f.eventTypes(user)).filter((t) => t === "volume_updated").length, 1);
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals((await f.eventTypes(user)).filter((t) => t === "volume_updated").length, 1, "once");

    for (const bad of [0, 61]) {
      const refused = await f.db.sql`update public.fly_plans set volume_snapshot_retention_days = ${bad}
                                     where tier = 'pro'`.catch((error) => error as Error);
      assert(refused instanceof Error && refused.message.includes("retention"), String(refused));
    }
  });
});
