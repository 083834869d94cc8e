/**
 * Operator restores and reverts of the user's volume, applied by the volume step (`ensureVolume`).
 *
 * A pending restore gets a new volume from its snapshot (in the plan's region, at least the snapshot's size
 * or the plan's); a pending revert goes back onto the volume an earlier restore kept. The move is then done:
 * the volume step hands the new volume to the machine step, whose config drift (a different mount) moves the
 * machine onto it, and the volume it left is kept detached until its keep period ends (`volume_restored` /
 * `volume_reverted` with the actor). Kept volumes are never the user's volume and never deleted as
 * duplicates; once their keep period is over they are deleted after a final snapshot (`volume_kept_expired`),
 * a host recovery's kept volume after the old machine that still holds it (`machine_destroyed`).
 *
 * @module
 */
import type { VolumeMoveRow } from "../db/volume_moves.ts";
import type { Volume } from "../fly/mod.ts";
import type { ReconcileContext } from "./context.ts";

/** What the volume step lends this module: creating a volume from a snapshot, deleting one. */
export interface VolumeMoveTools {
  /** Creates the user's volume from `snapshotId` with at least `sizeGb`. */
  restore(snapshotId: string, sizeGb: number): Promise<Volume>;
  /** Deletes a volume of ours (after its final snapshot). */
  remove(volume: Volume, reason: string): Promise<void>;
  /** Destroys the machine that holds a kept volume (a host recovery's old machine). */
  removeMachine(volume: Volume): Promise<void>;
}

/** The outcome of {@link applyVolumeMoves}: volumes to leave alone, and the user's volume if a move set it. */
export interface AppliedMoves {
  /** Kept volumes: not the user's, never deleted as extras. */
  kept: Set<string>;
  /**
   * The kept volumes a host recovery left with their old machine on the dead host (Fly does not move a
   * machine to another host's volume): that machine is kept with its volume, neither the user's nor a
   * duplicate.
   */
  keptWithMachine: Set<string>;
  /** The volume a move just put the user on. */
  target: Volume | null;
  /** The user's pending host recovery, left to host_recovery.ts. */
  recovery?: VolumeMoveRow;
}

/** Deletes the kept volumes whose keep period is over (detached ones; a gone one is just recorded). */
async function expireKept(
  ctx: ReconcileContext,
  appName: string,
  options: { moves: VolumeMoveRow[]; volumes: Volume[]; tools: VolumeMoveTools },
): Promise<VolumeMoveRow[]> {
  const left: VolumeMoveRow[] = [];
  for (const move of options.moves) {
    const volume = options.volumes.find((v) => v.id === move.from_volume_id);
    const over = Date.parse(move.keep_until ?? "") <= Date.now();
    // A volume on a dead host cannot get its final snapshot: it stays (and is reported) until the host is back.
    if (!over || volume?.host_status === "unreachable") {
      left.push(move);
      continue;
    }
    if (volume?.attached_machine_id) {
      // A host recovery's old machine goes first; its volume follows once Fly has freed it (the kept-volume
      // job makes the user due again).
      if (move.kind === "recovery") await options.tools.removeMachine(volume);
      left.push(move);
      continue;
    }
    if (volume) await options.tools.remove(volume, "keep_expired");
    await ctx.repo.moves.markKeptDeleted(move.id);
    ctx.events.push({
      event_type: "volume_kept_expired",
      status: "info",
      metadata: {
        app_name: appName,
        volume_id: move.from_volume_id,
        kept_since: move.done_at,
        keep_until: move.keep_until,
        deleted: volume !== undefined,
      },
    });
  }
  return left;
}

/** Gives up a move that cannot be applied, saying why. */
async function cancel(ctx: ReconcileContext, appName: string, move: VolumeMoveRow, why: string) {
  await ctx.repo.moves.cancel(move.id);
  ctx.events.push({
    event_type: "volume_restore_unavailable",
    status: "warning",
    error_details: `${move.kind} requested by ${move.requested_by} canceled: ${why}`,
    metadata: { app_name: appName, kind: move.kind, snapshot_id: move.snapshot_id, actor: move.requested_by },
  });
}

/** The volume a pending move goes to: the revert's kept volume, or the restore's new one (made once). */
async function moveTarget(
  ctx: ReconcileContext,
  options: { appName: string; region: string; sizeGb: number; move: VolumeMoveRow; volumes: Volume[] },
  tools: VolumeMoveTools,
): Promise<Volume | string> {
  const { move, volumes } = options;
  const existing = volumes.find((v) => v.id === move.to_volume_id);
  if (existing) return existing;
  if (move.kind === "revert") return `the kept volume ${move.to_volume_id} is gone`;
  const snapshot = await ctx.repo.snapshots.byId(move.user_id, move.snapshot_id ?? "");
  if (!snapshot || snapshot.status !== "created") return `snapshot ${move.snapshot_id} is not available`;
  if (snapshot.region !== options.region) {
    return `snapshot ${move.snapshot_id} is in ${snapshot.region} and the plan in ${options.region}`;
  }
  const volume = await tools.restore(
    snapshot.snapshot_id!,
    Math.max(options.sizeGb, snapshot.volume_size_gb ?? 1),
  );
  await ctx.repo.moves.setTarget(move.id, volume.id);
  return volume;
}

/**
 * Expires kept volumes and applies the user's pending restore or revert, if any. `volumes` are the app's
 * live volumes of ours as listed before.
 */
export async function applyVolumeMoves(
  ctx: ReconcileContext,
  options: { appName: string; region: string; sizeGb: number; volumes: Volume[] },
  tools: VolumeMoveTools,
): Promise<AppliedMoves> {
  const { appName, volumes } = options;
  const kept = await expireKept(ctx, appName, {
    moves: await ctx.repo.moves.kept(ctx.row.user_id),
    volumes,
    tools,
  });
  const keptIds = new Set(kept.map((move) => move.from_volume_id));
  const keptWithMachine = new Set(
    kept.filter((move) => move.kind === "recovery").map((move) => move.from_volume_id),
  );
  const move = await ctx.repo.moves.pending(ctx.row.user_id);
  if (!move) return { kept: keptIds, keptWithMachine, target: null };
  if (move.kind === "recovery") {
    // Applied (or ended, when the host came back in time) by host_recovery.ts.
    return { kept: keptIds, keptWithMachine, target: null, recovery: move };
  }
  const target = await moveTarget(ctx, { ...options, move }, tools);
  if (typeof target === "string") {
    await cancel(ctx, appName, move, target);
    return { kept: keptIds, keptWithMachine, target: null };
  }
  const left = volumes.find((volume) => volume.id === move.from_volume_id);
  const done = await ctx.repo.moves.complete({ ...move, to_volume_id: target.id }, left?.size_gb ?? null);
  keptIds.add(done.from_volume_id);
  keptIds.delete(target.id);
  keptWithMachine.delete(target.id);
  const snapshot = move.snapshot_id ? await ctx.repo.snapshots.byId(move.user_id, move.snapshot_id) : null;
  ctx.events.push({
    event_type: move.kind === "restore" ? "volume_restored" : "volume_reverted",
    status: "ok",
    metadata: {
      app_name: appName,
      actor: move.requested_by,
      reason: move.reason,
      volume_id: target.id,
      from_volume_id: move.from_volume_id,
      kept_until: done.keep_until,
      ...(snapshot
        ? {
          snapshot_id: snapshot.snapshot_id,
          snapshot_created_at: snapshot.created_at,
          snapshot_age_s: Math.max(
            0,
            Math.round((Date.now() - Date.parse(snapshot.created_at ?? "")) / 1000),
          ),
        }
        : {}),
    },
  });
  return { kept: keptIds, keptWithMachine, target };
}
