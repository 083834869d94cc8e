/**
 * End to end: `ops snapshot` and `ops snapshots` against the local stack. An operator's snapshot of a user's
 * volume is created, recorded with the operator and listed (with Fly's own listing); one Fly is still taking
 * answers "requested" and is recorded once created; a volume on a dead host is refused with an event; a user
 * without a volume is refused before any Fly call. `ops restore` onto a snapshot taken before a second
 * fingerprint brings the first back, `--revert` the second, and the kept volume is deleted once its keep
 * period is over.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { type Stack, startStack } from "./_support.ts";
import { ops } from "./admin_cli_support.ts";

Deno.test("ops snapshot / snapshots: taken, recorded with the actor, listed; refusals", async () => {
  const stack = await startStack();
  try {
    await stack.sql`update public.fly_plans set volume_size_gb = 1, volume_mount_path = '/data'
                    where tier = 'pro'`;
    const [user, free] = await stack.newUsers(2);
    await stack.setTier(user, "pro");
    await stack.waitSettled(user);
    const [{ volume_id }] = await stack.sql<{ volume_id: string }[]>`
      select volume_id from public.user_fly_apps where user_id = ${user}`;

    const taken = await ops(stack, ["--actor", "ann", "snapshot", user, "--reason", "before the migration"]);
    assertEquals(taken.code, 0, `${taken.out}\n${taken.err}`);
    assert(taken.out.includes(`of volume ${volume_id} created`), taken.out);
    const [row] = await stack.sql<{ snapshot_id: string; status: string; reason: string }[]>`
      select snapshot_id, status, reason from public.user_fly_volume_snapshots where user_id = ${user}`;
    assertEquals([row.status, row.reason], ["created", "ops"]);
    const events = (await stack.events(user)).filter((e) =>
      e.event_type === "snapshot_requested" || e.event_type === "volume_snapshotted"
    );
    assertEquals(events.map((e) => [e.event_type, e.metadata.actor, e.metadata.note]), [
      ["snapshot_requested", "claimed:ann", "before the migration"],
      ["volume_snapshotted", "claimed:ann", "before the migration"],
    ]);

    const listed = await ops(stack, ["snapshots", user, "--wide"]);
    assertEquals(listed.code, 0, listed.err);
    assert(listed.out.includes(row.snapshot_id) && listed.out.includes("ops"), listed.out);
    const json = JSON.parse((await ops(stack, ["snapshots", user, "--json"])).out);
    assertEquals(json.fly.map((s: { id: string }) => s.id), [row.snapshot_id], "Fly lists it too");

    stack.emulator.holdSnapshots(true);
    const pending = await ops(stack, ["snapshot", user]);
    assertEquals(pending.code, 0, pending.err);
    assert(pending.out.includes("still taking it"), pending.out);
    stack.emulator.holdSnapshots(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = JSON.parse((await ops(stack, ["snapshots", user, "--json"])).out);
    assertEquals(after.snapshots.map((s: { status: string }) => s.status), ["created", "created"]);

    const host = (await stack.flyControl.state()).apps.flatMap((a) => a.volumes)
      .find((v) => v.id === volume_id)!.host;
    stack.emulator.setHostStatus(host, "unreachable");
    const dead = await ops(stack, ["--actor", "ann", "snapshot", user]);
    assertEquals(dead.code, 1, dead.out);
    assert(dead.err.includes("unreachable"), dead.err);
    const failed = (await stack.events(user)).filter((e) => e.event_type === "snapshot_failed");
    assertEquals(failed.map((e) => e.metadata.actor), ["claimed:ann"]);
    stack.emulator.setHostStatus(host, "ok");

    await stack.setTier(free, "free");
    const none = await ops(stack, ["snapshot", free]);
    assert(none.code !== 0, none.out);
  } finally {
    await stack.stop();
  }
});

/** The user's recorded volume and the volume their machine mounts. */
async function volumes(stack: Stack, userId: string) {
  const [{ volume_id, fly_app_name }] = await stack.sql<{ volume_id: string; fly_app_name: string }[]>`
    select volume_id, fly_app_name from public.user_fly_apps where user_id = ${userId}`;
  const app = (await stack.flyControl.state()).apps.find((a) => a.name === fly_app_name)!;
  const machine = app.machines.find((m) => m.state !== "destroyed")!;
  const mounted = (machine.config as { mounts?: { volume: string }[] }).mounts?.[0]?.volume;
  return { recorded: volume_id, mounted, all: app.volumes };
}

Deno.test("ops restore: a snapshot's data back, --revert the newer data, the kept volume deleted after its keep", async () => {
  const stack = await startStack();
  try {
    await stack.sql`update public.fly_plans set volume_size_gb = 1, volume_mount_path = '/data'
                    where tier = 'pro'`;
    const [user] = await stack.newUsers(1);
    await stack.setTier(user, "pro");
    await stack.waitSettled(user);
    const first = await volumes(stack, user);
    stack.emulator.writeVolumeData(first.recorded, "first");
    const taken = JSON.parse((await ops(stack, ["snapshot", user, "--json"])).out);
    stack.emulator.writeVolumeData(first.recorded, "second");

    const restore = await ops(stack, [
      "--actor",
      "ann",
      "restore",
      user,
      "--snapshot",
      taken.snapshot.snapshot_id,
      "--keep-days",
      "1",
    ]);
    assertEquals(restore.code, 0, `${restore.out}\n${restore.err}`);
    assert(restore.out.includes(`volume ${first.recorded} kept until`), restore.out);
    const restored = await volumes(stack, user);
    assert(restored.recorded !== first.recorded, "a new volume");
    assertEquals(restored.mounted, restored.recorded, "the machine moved onto it");
    assertEquals(stack.emulator.readVolumeData(restored.recorded), "first", "the snapshot's data");
    assertEquals(stack.emulator.readVolumeData(first.recorded), "second", "the old volume kept as it was");
    assertEquals((await stack.waitSettled(user)).health_status, "healthy");

    const revert = await ops(stack, ["--actor", "ann", "restore", user, "--revert"]);
    assertEquals(revert.code, 0, `${revert.out}\n${revert.err}`);
    const reverted = await volumes(stack, user);
    assertEquals([reverted.recorded, reverted.mounted], [first.recorded, first.recorded]);
    assertEquals(stack.emulator.readVolumeData(reverted.recorded), "second");
    const again = await ops(stack, ["restore", user, "--revert"]);
    assertEquals(again.code, 1, "refused: nothing left to revert to");
    assert(again.err.includes("no volume kept"), again.err);
    const moves = (await stack.events(user)).filter((e) =>
      ["restore_requested", "volume_restored", "volume_reverted"].includes(e.event_type)
    );
    assertEquals(moves.map((e) => [e.event_type, e.metadata.actor]), [
      ["restore_requested", "claimed:ann"],
      ["volume_restored", "claimed:ann"],
      ["restore_requested", "claimed:ann"],
      ["volume_reverted", "claimed:ann"],
    ]);

    // The volume the revert left (the restored one) is kept a day; once that is over it goes.
    assert(reverted.all.some((v) => v.id === restored.recorded), "still kept");
    const month = new Date().toISOString().slice(0, 7);
    const usage = JSON.parse((await ops(stack, ["usage", "--month", month, "--json"])).out);
    const mine = usage.users.find((u: { user_id: string }) => u.user_id === user);
    assertEquals([mine.kept_volume_gb, mine.kept_volume_monthly_usd], [1, 0.15], "the kept 1 GB in usage");
    await stack.sql`update public.user_fly_volume_moves set keep_until = now() - interval '1 second'
                    where user_id = ${user} and kept_state = 'kept'`;
    const [{ due }] = await stack.sql<
      { due: number }[]
    >`select private.make_expired_kept_volumes_due() as due`;
    assertEquals(due, 1);
    await stack.sweep();
    const after = await volumes(stack, user);
    assertEquals(after.all.map((v) => v.id), [first.recorded], "the kept volume is deleted");
    const types = (await stack.events(user)).map((e) => e.event_type);
    assert(types.includes("volume_kept_expired"), types.join(", "));
    const [final] = await stack.sql<{ status: string }[]>`
      select status from public.user_fly_volume_snapshots
      where volume_id = ${restored.recorded} and reason = 'final'`;
    assertEquals(final?.status, "created", "after its final snapshot");
  } finally {
    await stack.stop();
  }
});
