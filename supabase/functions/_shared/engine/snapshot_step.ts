/**
 * Snapshots of the user's volume: the final one before any deletion, and the one a new volume restores.
 *
 * {@link ensureFinalSnapshot} takes an on-demand snapshot of a volume about to be deleted and waits, within
 * the attempt's budget, until Fly reports it `created`; past the budget the attempt ends `progressing` and
 * the next one goes on waiting for the same snapshot. The request is recorded before it is sent (in
 * `user_fly_volume_snapshots`, status `requested`), so an attempt that died after sending it finds Fly's
 * snapshot again (by id once known, else the first one taken since the request) instead of taking another.
 * Once created, the row gets its size and expiry and the event `volume_snapshotted` is written.
 *
 * {@link restoreSource} picks what a new volume starts from: the user's newest created snapshot in the
 * region still within its retention.
 *
 * @module
 */
import type { VolumeSnapshotRow } from "../db/snapshots.ts";
import type { Volume, VolumeSnapshot } from "../fly/mod.ts";
import { BACKOFF, pollUntil } from "../backoff.ts";
import { pause, type ReconcileContext } from "./context.ts";
import { RetryLaterError } from "./failure.ts";

/** Clock skew tolerated between the database (request time) and Fly (the snapshot's `created_at`). */
const CLOCK_SKEW_MS = 5_000;

/** Snapshot statuses that end the wait: taken, or failed for good (then a new one is taken). */
const SETTLED_STATUSES: ReadonlySet<string> = new Set(["created", "failed", "error"]);

/** Fly's default snapshot retention, in days (used when a snapshot does not say). */
const DEFAULT_RETENTION_DAYS = 5;

/** The snapshot of `row` among the volume's: by id when known, else the first taken since the request. */
function matching(row: VolumeSnapshotRow, snapshots: VolumeSnapshot[]): VolumeSnapshot | undefined {
  if (row.snapshot_id) return snapshots.find((snapshot) => snapshot.id === row.snapshot_id);
  const since = Date.parse(row.requested_at) - CLOCK_SKEW_MS;
  return snapshots
    .filter((snapshot) => Date.parse(snapshot.created_at) >= since)
    .sort((a, b) => a.created_at.localeCompare(b.created_at))[0];
}

/**
 * Records the request, asks Fly for a snapshot and ties the row to the one that appeared (if the listing
 * does not show exactly one new snapshot, the row is matched by time from then on).
 */
async function requestSnapshot(
  ctx: ReconcileContext,
  appName: string,
  volume: Volume,
): Promise<VolumeSnapshotRow> {
  const row = await ctx.repo.snapshots.request({
    userId: ctx.row.user_id,
    appName,
    volumeId: volume.id,
    region: volume.region,
    reason: "final",
  });
  const before = new Set((await ctx.fly.volumes.listSnapshots(appName, volume.id)).map((s) => s.id));
  await ctx.fly.volumes.createSnapshot(appName, volume.id);
  const fresh = (await ctx.fly.volumes.listSnapshots(appName, volume.id)).filter((s) => !before.has(s.id));
  return fresh.length === 1 ? await ctx.repo.snapshots.identify(row.id, fresh[0].id) : row;
}

/**
 * Makes sure the volume has a final snapshot that is `created`, taking it if needed; returns its row.
 * Call it before deleting the volume, and delete only after it returned.
 *
 * @throws {DeadlineExceededError} while the snapshot is still being taken at the end of the budget (the
 *   attempt is `progressing`; the next one waits for the same snapshot).
 * @throws {RetryLaterError} when the snapshot ended in another state than `created` (the next attempt
 *   takes a new one).
 */
export async function ensureFinalSnapshot(
  ctx: ReconcileContext,
  appName: string,
  volume: Volume,
): Promise<VolumeSnapshotRow> {
  const done = await ctx.repo.snapshots.created(volume.id, "final");
  if (done) return done;
  let row = await ctx.repo.snapshots.pending(volume.id, "final");
  if (row && !matching(row, await ctx.fly.volumes.listSnapshots(appName, volume.id))) {
    await ctx.repo.snapshots.abandon(row.id);
    row = null;
  }
  const pending = row ?? await requestSnapshot(ctx, appName, volume);
  const { value: snapshot } = await pollUntil({
    policy: BACKOFF.snapshotWait,
    attempt: async () => matching(pending, await ctx.fly.volumes.listSnapshots(appName, volume.id)),
    // Any other status (`creating`, or one this code does not know) is still on its way: wait, never delete.
    settled: (snapshot) => snapshot === undefined || SETTLED_STATUSES.has(snapshot.status),
    wait: (ms) => pause(ctx, ms, `the final snapshot of volume ${volume.id} to be created`),
  });
  if (snapshot?.status !== "created") {
    await ctx.repo.snapshots.abandon(pending.id);
    throw new RetryLaterError(
      `the final snapshot of volume ${volume.id} ${
        snapshot ? `ended ${snapshot.status}` : "is not listed"
      }; ` +
        `a new one is taken next time`,
    );
  }
  const created = await ctx.repo.snapshots.markCreated(pending.id, {
    snapshotId: snapshot.id,
    sizeBytes: snapshot.size ?? null,
    volumeSizeGb: snapshot.volume_size ?? volume.size_gb,
    retentionDays: snapshot.retention_days ?? volume.snapshot_retention ?? DEFAULT_RETENTION_DAYS,
    createdAt: snapshot.created_at,
  });
  ctx.events.push({
    event_type: "volume_snapshotted",
    status: "ok",
    metadata: {
      app_name: appName,
      volume_id: volume.id,
      snapshot_id: snapshot.id,
      reason: "final",
      size_bytes: created.size_bytes,
      created_at: created.created_at,
      expires_at: created.expires_at,
    },
  });
  return created;
}

/** The snapshot a new volume of the user in `region` should start from, if any is within its retention. */
export async function restoreSource(
  ctx: ReconcileContext,
  region: string,
): Promise<VolumeSnapshotRow | null> {
  return await ctx.repo.snapshots.latestRestorable(ctx.row.user_id, region);
}
