/**
 * End to end through the local stack (tier change, gateway, functions, emulator): a user's volume data
 * survives a downgrade past its grace and comes back on the re-upgrade. Plan with a 1 GB volume, 8 s grace;
 * the fingerprint is written and read through the emulator's control routes over HTTP.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { waitFor } from "../_support/wait.ts";
import { type Stack, startStack } from "./_support.ts";

const GRACE_SECONDS = 8;

/** The volume and grace columns of the user's row. */
async function volumeRow(stack: Stack, userId: string) {
  const [row] = await stack.sql<{ volume_id: string | null; delete_after: Date | null }[]>`
    select volume_id, delete_after from public.user_fly_apps where user_id = ${userId}`;
  return row;
}

/** `PUT|GET /_emulator/volumes/{id}/data`: what a machine "wrote" to its volume. */
async function volumeData(stack: Stack, volumeId: string, write?: string): Promise<string | null> {
  const url = `${stack.emulator.url}/_emulator/volumes/${volumeId}/data`;
  const response = write === undefined
    ? await fetch(url)
    : await fetch(url, { method: "PUT", body: JSON.stringify({ data: write }) });
  assertEquals(response.status, 200, `${url}: ${await response.clone().text()}`);
  return write ?? (await response.json() as { data: string | null }).data;
}

Deno.test("volume data: downgrade, grace over, final snapshot, app deleted; the upgrade restores the data", async () => {
  const stack = await startStack();
  try {
    await stack.sql`update public.fly_plans set volume_size_gb = 1, volume_mount_path = '/data'
                    where tier = 'pro'`;
    await stack
      .sql`update public.fly_plans set deprovision_grace_seconds = ${GRACE_SECONDS} where tier = 'free'`;
    const [user] = await stack.newUsers(1);
    await stack.setTier(user, "pro");
    const active = await stack.waitSettled(user);
    assertEquals(active.status, "active");
    const oldVolume = (await volumeRow(stack, user)).volume_id!;
    const appName = active.fly_app_name!;
    const fingerprint = `user-data-${crypto.randomUUID()}`;
    await volumeData(stack, oldVolume, fingerprint);

    await stack.setTier(user, "free");
    await waitFor("the suspension", async () => {
      const row = await stack.row(user);
      return row?.status === "suspended" && row.lease_owner === null;
    });
    const deleteAfter = (await volumeRow(stack, user)).delete_after!.getTime();
    await new Promise((resolve) => setTimeout(resolve, deleteAfter - Date.now() + 200));
    for (let sweeps = 0; (await stack.row(user))?.status !== "deleted"; sweeps++) {
      assert(sweeps < 8, "deleted within 8 sweeps after the grace");
      await stack.sweep();
    }
    const state = await stack.flyControl.state();
    assertEquals(state.apps.some((app) => app.name === appName), false, "app and volume deleted");
    const [snapshot] = await stack.sql<{ snapshot_id: string; status: string; expires_at: Date }[]>`
      select snapshot_id, status, expires_at from public.user_fly_volume_snapshots
      where user_id = ${user} and volume_id = ${oldVolume} and reason = 'final'`;
    assertEquals(snapshot.status, "created", "the final snapshot is recorded");
    assert(snapshot.expires_at.getTime() > Date.now(), "within its retention");
    const deletion = (await stack.events(user)).map((e) => e.event_type);
    assert(
      deletion.indexOf("volume_snapshotted") >= 0 &&
        deletion.indexOf("volume_snapshotted") < deletion.indexOf("volume_deleted"),
      deletion.join(", "),
    );

    await stack.setTier(user, "pro");
    await waitFor("the re-upgrade", async () => {
      const row = await stack.row(user);
      return row?.status === "active" && row.lease_owner === null && row.health_status === "healthy" && row;
    }, 30_000);
    const newVolume = (await volumeRow(stack, user)).volume_id;
    assert(newVolume && newVolume !== oldVolume, "a new volume");
    assertEquals(await volumeData(stack, newVolume), fingerprint, "the new volume carries the data");
    const [event] = (await stack.events(user)).filter((e) => e.event_type === "volume_restored");
    assertEquals([event.metadata.snapshot_id, event.metadata.volume_id], [
      snapshot.snapshot_id,
      newVolume,
    ]);
  } finally {
    await stack.stop();
  }
});
