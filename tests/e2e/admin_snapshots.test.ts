/**
 * End to end: `ops snapshot` and `ops snapshots` against the local stack. An operator's snapshot of a user's
 * volume is created, recorded with the operator and listed (with Fly's own listing); one Fly is still taking
 * answers "requested" and is recorded once created; a volume on a dead host is refused with an event; a user
 * without a volume is refused before any Fly call.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { startStack } from "./_support.ts";
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
      ["snapshot_requested", "ops:ann", "before the migration"],
      ["volume_snapshotted", "ops:ann", "before the migration"],
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
    assertEquals(failed.map((e) => e.metadata.actor), ["ops:ann"]);
    stack.emulator.setHostStatus(host, "ok");

    await stack.setTier(free, "free");
    const none = await ops(stack, ["snapshot", free]);
    assert(none.code !== 0, none.out);
  } finally {
    await stack.stop();
  }
});
