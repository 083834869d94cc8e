/**
 * Recovery from a lost host. A volume lives on one host; when Fly reports its `host_status` unreachable,
 * the machine mounting it cannot start again. The first time the volume step sees that, it records a
 * recovery (`user_fly_volume_moves`, kind `recovery`, requested by the controller at that moment) and the
 * attempt is `progressing` until `HOST_RECOVERY_AFTER_S` have passed (a host that comes back in time cancels
 * it). Then the user is moved onto a new volume in the same region made from the dead volume's latest
 * `created` snapshot (Fly's daily ones included); the dead volume is kept like a restore's, and the event
 * `host_recovered` says how old that snapshot was (the data the user lost). Without a snapshot nothing is
 * replaced: the attempt is terminal, which alerts at once, and the dead volume stays the user's.
 *
 * @module
 */
import type { Volume, VolumeSnapshot } from "../fly/mod.ts";
import type { ReconcileContext } from "./context.ts";
import { PermanentReconcileError, RetryLaterError } from "./failure.ts";
import type { VolumeMoveTools } from "./volume_move.ts";

/** Days a dead volume is kept after a recovery (for a revert once its host is back). */
const KEEP_DEAD_VOLUME_DAYS = 7;

/** The newest `created` snapshot in a listing, if any. */
function newestCreated(snapshots: VolumeSnapshot[]): VolumeSnapshot | undefined {
  return snapshots.filter((snapshot) => snapshot.status === "created")
    .sort((a, b) => b.created_at.localeCompare(a.created_at))[0];
}

/**
 * For the user's volume on an unreachable host: records the recovery, waits for `HOST_RECOVERY_AFTER_S`,
 * then moves the user onto a new volume from the latest snapshot and returns it.
 *
 * @throws {RetryLaterError} until the recovery is due.
 * @throws {PermanentReconcileError} when it is due and the dead volume has no snapshot.
 */
export async function recoverLostHost(
  ctx: ReconcileContext,
  options: { appName: string; sizeGb: number; volume: Volume },
  tools: VolumeMoveTools,
): Promise<Volume> {
  const { appName, volume } = options;
  const pending = await ctx.repo.moves.pending(ctx.row.user_id);
  const recovery = pending?.kind === "recovery" ? pending : await ctx.repo.moves.request({
    userId: ctx.row.user_id,
    kind: "recovery",
    fromVolumeId: volume.id,
    keepDays: KEEP_DEAD_VOLUME_DAYS,
    actor: "controller",
    reason: "host unreachable",
  });
  if (!recovery) {
    throw new RetryLaterError(
      `the host of volume ${volume.id} is unreachable; an operator's move is pending`,
    );
  }
  const dueAt = Date.parse(recovery.requested_at) + ctx.config.hostRecoveryAfterS * 1000;
  if (Date.now() < dueAt) {
    throw new RetryLaterError(
      `the host of volume ${volume.id} is unreachable since ${recovery.requested_at}; recovering from its ` +
        `latest snapshot at ${new Date(dueAt).toISOString()} unless it comes back`,
      Math.max(1_000, dueAt - Date.now()),
    );
  }
  const snapshot = newestCreated(await ctx.fly.volumes.listSnapshots(appName, volume.id));
  if (!snapshot) {
    throw new PermanentReconcileError(
      `the host of volume ${volume.id} is unreachable since ${recovery.requested_at} and the volume has no ` +
        `snapshot: nothing replaced (an empty volume would lose the user's data); recover it by hand`,
    );
  }
  const target = await tools.restore(snapshot.id, Math.max(options.sizeGb, snapshot.volume_size ?? 1));
  await ctx.repo.moves.setTarget(recovery.id, target.id, snapshot.id);
  const done = await ctx.repo.moves.complete({ ...recovery, to_volume_id: target.id }, volume.size_gb);
  ctx.events.push({
    event_type: "host_recovered",
    status: "warning",
    error_details: `volume ${volume.id} was on an unreachable host: the user now runs on ${target.id} from ` +
      `snapshot ${snapshot.id} taken ${snapshot.created_at}; later data is lost unless the host comes back`,
    metadata: {
      app_name: appName,
      volume_id: target.id,
      from_volume_id: volume.id,
      unreachable_since: recovery.requested_at,
      snapshot_id: snapshot.id,
      snapshot_created_at: snapshot.created_at,
      snapshot_age_s: Math.max(0, Math.round((Date.now() - Date.parse(snapshot.created_at)) / 1000)),
      kept_until: done.keep_until,
    },
  });
  return target;
}
