/**
 * Recovery from a lost host. A volume lives on one host; when Fly reports its `host_status` unreachable,
 * the machine mounting it cannot start again. The first time the volume step sees that, it records a
 * recovery (`user_fly_volume_moves`, kind `recovery`, requested by the controller at that moment) and the
 * attempt is `progressing` until `HOST_RECOVERY_AFTER_S` have passed (a host that comes back in time cancels
 * it). A machine whose start Fly refuses with the host error ({@link isHostError}) records the same
 * recovery from the machine step ({@link noteHostStartFailure}), even while the volume still reports its
 * host fine; a later successful start cancels it ({@link endStartFailureRecovery}).
 *
 * Once due, the user is moved onto a new volume in the same region made from the dead volume's latest
 * `created` snapshot (Fly's daily ones included), and the machine step creates a new machine on it: Fly
 * keeps a machine on its volume's host, so the old machine stays on the dead volume, both kept for a revert
 * (`EnsuredVolume.kept`: never the user's, never destroyed or deleted as duplicates). The event
 * `host_recovered` says how old that snapshot was (the data the user lost) and the controller raises an
 * alert for it. Without a snapshot nothing is replaced: the attempt is terminal, which alerts at once, and
 * the dead volume stays the user's.
 *
 * @module
 */
import { FlyPreconditionFailedError, type Machine, type Volume, type VolumeSnapshot } from "../fly/mod.ts";
import type { VolumeMoveRow } from "../db/volume_moves.ts";
import type { ReconcileContext } from "./context.ts";
import { PermanentReconcileError, RetryLaterError } from "./failure.ts";
import type { VolumeMoveTools } from "./volume_move.ts";

/** Days a dead volume is kept after a recovery (for a revert once its host is back). */
const KEEP_DEAD_VOLUME_DAYS = 7;

/** Why a recovery was recorded (`user_fly_volume_moves.reason`). */
const REASON = {
  /** The volume reports `host_status: unreachable`. */
  volume: "host unreachable",
  /** Fly refused to start the machine with the host error. */
  start: "machine start refused: host error",
} as const;

/**
 * True for Fly's refusal to start a machine because its host is gone (412 `unable to start machine: its
 * host is unreachable`; the wording is the emulator's, see docs/architecture.md).
 */
export function isHostError(error: unknown): boolean {
  return error instanceof FlyPreconditionFailedError &&
    /host is (unreachable|down|unavailable)/i.test(error.message);
}

/** The user's pending recovery of `volumeId`, recorded now if none is; null when an operator's move is pending. */
async function recoveryOf(
  ctx: ReconcileContext,
  volumeId: string,
  reason: string,
): Promise<VolumeMoveRow | null> {
  const pending = await ctx.repo.moves.pending(ctx.row.user_id);
  if (pending) return pending.kind === "recovery" && pending.from_volume_id === volumeId ? pending : null;
  return await ctx.repo.moves.request({
    userId: ctx.row.user_id,
    kind: "recovery",
    fromVolumeId: volumeId,
    keepDays: KEEP_DEAD_VOLUME_DAYS,
    actor: "controller",
    reason,
  });
}

/** When a recovery is due (epoch ms): `HOST_RECOVERY_AFTER_S` after it was recorded. */
function dueAt(ctx: ReconcileContext, recovery: VolumeMoveRow): number {
  return Date.parse(recovery.requested_at) + ctx.config.hostRecoveryAfterS * 1000;
}

/**
 * Cancels the pending `recovery` when it was recorded for the volume's host status and the volume (among
 * `volumes`, the app's live ones of ours) reports its host again: the host came back in time.
 */
export async function endRecoveryIfHostBack(
  ctx: ReconcileContext,
  recovery: VolumeMoveRow,
  volumes: Volume[],
): Promise<void> {
  const volume = volumes.find((candidate) => candidate.id === recovery.from_volume_id);
  if (recovery.reason !== REASON.volume || !volume || volume.host_status === "unreachable") return;
  await ctx.repo.moves.cancel(recovery.id);
}

/**
 * True when the user's pending recovery of `volume` came from refused starts, is due, and its machine's host
 * is still unreachable. A host that came back (the machine reports it again) ends the recovery instead: the
 * machine is started as usual, its data never traded for an older snapshot.
 */
export async function startFailureRecoveryDue(
  ctx: ReconcileContext,
  options: { appName: string; volume: Pick<Volume, "id" | "attached_machine_id"> },
): Promise<boolean> {
  const { appName, volume } = options;
  const pending = await ctx.repo.moves.pending(ctx.row.user_id);
  const due = pending?.kind === "recovery" && pending.reason === REASON.start &&
    pending.from_volume_id === volume.id && Date.now() >= dueAt(ctx, pending);
  if (!due || !volume.attached_machine_id) return due;
  const machine = await ctx.fly.machines.get(appName, volume.attached_machine_id).catch(() => null);
  if (machine === null || machine.host_status === "unreachable") return true;
  await ctx.repo.moves.cancel(pending.id);
  return false;
}

/**
 * After Fly refused to start `machine` with the host error: records a recovery of the volume it mounts
 * (once: the first refusal starts the clock) and retries later; the volume step recovers once it is due.
 * A machine without a volume has no data to recover: the refusal is rethrown.
 *
 * @throws {RetryLaterError} always, unless the refusal is rethrown.
 */
export async function noteHostStartFailure(
  ctx: ReconcileContext,
  machine: Machine,
  refusal: Error,
): Promise<never> {
  const volumeId = machine.config.mounts?.[0]?.volume;
  if (!volumeId) throw refusal;
  const recovery = await recoveryOf(ctx, volumeId, REASON.start);
  if (!recovery) throw new RetryLaterError(`${refusal.message}; an operator's move is pending`);
  const due = dueAt(ctx, recovery);
  throw new RetryLaterError(
    `machine ${machine.id} cannot start since ${recovery.requested_at} (${refusal.message}); recovering ` +
      `volume ${volumeId} from its latest snapshot at ${new Date(due).toISOString()} unless it starts`,
    Math.max(1_000, due - Date.now()),
  );
}

/** After a successful start: cancels a pending recovery that refused starts had recorded. */
export async function endStartFailureRecovery(ctx: ReconcileContext): Promise<void> {
  const pending = await ctx.repo.moves.pending(ctx.row.user_id);
  if (pending?.kind === "recovery" && pending.reason === REASON.start) {
    await ctx.repo.moves.cancel(pending.id);
  }
}

/** The newest `created` snapshot in a listing, if any. */
function newestCreated(snapshots: VolumeSnapshot[]): VolumeSnapshot | undefined {
  return snapshots.filter((snapshot) => snapshot.status === "created")
    .sort((a, b) => b.created_at.localeCompare(a.created_at))[0];
}

/**
 * For the user's volume on an unreachable host (or whose machine's starts were refused with the host error):
 * records the recovery, waits for `HOST_RECOVERY_AFTER_S`, then moves the user onto a new volume from the
 * latest snapshot and returns it.
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
  const recovery = await recoveryOf(ctx, volume.id, REASON.volume);
  if (!recovery) {
    throw new RetryLaterError(
      `the host of volume ${volume.id} is unreachable; an operator's move is pending`,
    );
  }
  const due = dueAt(ctx, recovery);
  if (Date.now() < due) {
    throw new RetryLaterError(
      `the host of volume ${volume.id} is unreachable since ${recovery.requested_at}; recovering from its ` +
        `latest snapshot at ${new Date(due).toISOString()} unless it comes back`,
      Math.max(1_000, due - Date.now()),
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
