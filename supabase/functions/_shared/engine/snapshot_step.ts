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
 * {@link takeOpsSnapshot} is an operator's snapshot (`ops snapshot USER`), {@link refreshSnapshot} one look at
 * a requested one.
 *
 * {@link restoreSource} picks what a new volume starts from: the user's newest created snapshot in the
 * region still within its retention.
 *
 * @module
 */
import type { SnapshotReason, VolumeSnapshotRow } from "../db/snapshots.ts";
import type { UserFlyApp } from "../db/user_fly_apps.ts";
import { FlyApiError, FlyNotFoundError, type Volume, type VolumeSnapshot } from "../fly/mod.ts";
import { BACKOFF, pollUntil } from "../backoff.ts";
import { pause, type ReconcileContext } from "./context.ts";
import { DeadlineExceededError, RetryLaterError } from "./failure.ts";

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

/** What taking a snapshot needs: Fly, the rows, the time budget, the user, and where events go. */
export type SnapshotContext = Pick<ReconcileContext, "fly" | "repo" | "deadline" | "signal" | "events"> & {
  row: Pick<UserFlyApp, "user_id">;
};

/** The volume a snapshot is of: its id, and its size and retention when known (for the row). */
type SnapshotVolume = Pick<Volume, "id" | "region"> & Partial<Pick<Volume, "size_gb" | "snapshot_retention">>;

/** A snapshot to take: of which volume of which app, and why. */
export interface SnapshotRequest {
  appName: string;
  volume: SnapshotVolume;
  reason: SnapshotReason;
}

/**
 * Records the request, asks Fly for a snapshot and ties the row to the one that appeared (if the listing
 * does not show exactly one new snapshot, the row is matched by time from then on).
 */
async function requestSnapshot(
  ctx: SnapshotContext,
  { appName, volume, reason }: SnapshotRequest,
): Promise<VolumeSnapshotRow> {
  const row = await ctx.repo.snapshots.request({
    userId: ctx.row.user_id,
    appName,
    volumeId: volume.id,
    region: volume.region,
    reason,
  });
  const before = new Set((await ctx.fly.volumes.listSnapshots(appName, volume.id)).map((s) => s.id));
  try {
    await ctx.fly.volumes.createSnapshot(appName, volume.id);
  } catch (error) {
    // Refused (e.g. the volume's host is dead): nothing to wait for. An ambiguous failure keeps the row: the
    // snapshot may exist, and is found by time.
    if (error instanceof FlyApiError && error.status < 500 && error.status !== 408) {
      await ctx.repo.snapshots.abandon(row.id);
    }
    throw error;
  }
  const fresh = (await ctx.fly.volumes.listSnapshots(appName, volume.id)).filter((s) => !before.has(s.id));
  return fresh.length === 1 ? await ctx.repo.snapshots.identify(row.id, fresh[0].id) : row;
}

/**
 * Waits (within the budget) until the row's snapshot is `created`, then records it (size, expiry) with the
 * event `volume_snapshotted` carrying `audit` (e.g. the actor).
 *
 * @throws {DeadlineExceededError} while it is still being taken at the end of the budget.
 * @throws {RetryLaterError} when it ended in another state than `created` or is not listed (the row is
 *   abandoned; take a new one).
 */
export async function settleSnapshot(
  ctx: SnapshotContext,
  request: SnapshotRequest & { row: VolumeSnapshotRow; audit?: Record<string, unknown> },
): Promise<VolumeSnapshotRow> {
  const { appName, volume, row } = request;
  const { value: snapshot } = await pollUntil({
    policy: BACKOFF.snapshotWait,
    attempt: async () => matching(row, await ctx.fly.volumes.listSnapshots(appName, volume.id)),
    // Any other status (`creating`, or one this code does not know) is still on its way: wait, never delete.
    settled: (snapshot) => snapshot === undefined || SETTLED_STATUSES.has(snapshot.status),
    wait: (ms) => pause(ctx, ms, `the ${request.reason} snapshot of volume ${volume.id} to be created`),
  });
  if (snapshot?.status !== "created") {
    await ctx.repo.snapshots.abandon(row.id);
    throw new RetryLaterError(
      `the ${request.reason} snapshot of volume ${volume.id} ${
        snapshot ? `ended ${snapshot.status}` : "is not listed"
      }; a new one must be taken`,
    );
  }
  const created = await ctx.repo.snapshots.markCreated(row.id, {
    snapshotId: snapshot.id,
    sizeBytes: snapshot.size ?? null,
    volumeSizeGb: snapshot.volume_size ?? volume.size_gb ?? null,
    retentionDays: snapshot.retention_days ?? volume.snapshot_retention ?? DEFAULT_RETENTION_DAYS,
    createdAt: snapshot.created_at,
  });
  ctx.events.push({
    event_type: "volume_snapshotted",
    status: "ok",
    metadata: {
      ...request.audit,
      app_name: appName,
      volume_id: volume.id,
      snapshot_id: snapshot.id,
      reason: request.reason,
      size_bytes: created.size_bytes,
      created_at: created.created_at,
      expires_at: created.expires_at,
    },
  });
  return created;
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
  ctx: SnapshotContext,
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
  const request = { appName, volume, reason: "final" as const };
  return await settleSnapshot(ctx, { ...request, row: row ?? await requestSnapshot(ctx, request) });
}

/**
 * Takes an operator's snapshot of the volume now: the request is recorded (`snapshot_requested` with the
 * actor and note) and waited for within the budget. Returns the row, `requested` when the budget ran out
 * first (it is recorded once seen `created`, see {@link refreshSnapshot}).
 */
export async function takeOpsSnapshot(
  ctx: SnapshotContext,
  options: { appName: string; volume: Volume; actor: string; note?: string },
): Promise<VolumeSnapshotRow> {
  const request = { appName: options.appName, volume: options.volume, reason: "ops" as const };
  const audit = { actor: options.actor, note: options.note ?? null };
  const row = await requestSnapshot(ctx, request);
  ctx.events.push({
    event_type: "snapshot_requested",
    status: "info",
    metadata: { ...audit, app_name: options.appName, volume_id: options.volume.id },
  });
  try {
    return await settleSnapshot(ctx, { ...request, row, audit });
  } catch (error) {
    if (error instanceof DeadlineExceededError) return row;
    throw error;
  }
}

/**
 * One look at a `requested` row's snapshot without waiting: recorded if it is `created` now. Returns the
 * row as it stands (a snapshot no longer listed is abandoned: `gone`).
 */
export async function refreshSnapshot(
  ctx: SnapshotContext,
  row: VolumeSnapshotRow,
): Promise<VolumeSnapshotRow> {
  try {
    return await settleSnapshot(ctx, {
      appName: row.app_name,
      volume: { id: row.volume_id, region: row.region },
      reason: row.reason,
      row,
    });
  } catch (error) {
    // Still being taken, or the app is gone (its snapshots cannot be listed now): as it stands.
    if (error instanceof DeadlineExceededError || error instanceof FlyNotFoundError) return row;
    if (error instanceof RetryLaterError) return { ...row, status: "gone" };
    throw error;
  }
}

/** The snapshot a new volume of the user in `region` should start from, if any is within its retention. */
export async function restoreSource(
  ctx: ReconcileContext,
  region: string,
): Promise<VolumeSnapshotRow | null> {
  return await ctx.repo.snapshots.latestRestorable(ctx.row.user_id, region);
}
