/**
 * The app's persistent volume, for plans with `volume_size_gb` / `volume_mount_path`.
 *
 * {@link ensureVolume} runs before the machine step: it finds the volume by its name ({@link VOLUME_NAME};
 * Fly volumes have no metadata, and the app holds one user's data only), creates it in the plan's region when
 * missing, and extends it when the plan grows. A create that failed ambiguously (timeout, 5xx, dropped answer)
 * is followed by a list before anything else, so a silent success is adopted instead of duplicated. Shrinking
 * and moving to another region are refused with a {@link PermanentReconcileError}: Fly cannot shrink a volume,
 * and the data would not follow the machine to another region (unless the caller explicitly allows the move:
 * then a new, empty volume is made in the new region and the old one is deleted once no machine uses it).
 *
 * The plan's data policy (`volume_snapshot_retention_days`, `volume_auto_backup`) is set on a new volume and
 * converged on an existing one (`volume_updated`). A new volume of a user whose earlier volume was deleted
 * starts from that volume's final snapshot while it is within its retention (`volume_restored`, in the same
 * region, at least the snapshot's size); otherwise it starts empty (`volume_restore_unavailable`).
 *
 * An operator's restore or revert (`ops restore`) is applied here first (volume_move.ts): the volume it puts
 * the user on is the one returned, and the volumes restores keep are left alone until their keep period ends.
 * A volume whose host is unreachable (or whose machine's starts Fly refuses with the host error) is replaced
 * from its latest snapshot after `HOST_RECOVERY_AFTER_S` (host_recovery.ts).
 *
 * {@link deleteVolumes} removes the app's volumes once its machines are gone (deprovision, end of a grace).
 * No volume is deleted before its final snapshot is `created` ({@link ensureFinalSnapshot}).
 *
 * @module
 */
import { z } from "zod";
import {
  type CreateVolumeRequest,
  FlyApiError,
  FlyNetworkError,
  FlyNotFoundError,
  type Volume,
} from "../fly/mod.ts";
import type { VolumeDataPolicy, VolumeSnapshotRow } from "../db/snapshots.ts";
import type { Plan } from "../db/user_fly_apps.ts";
import { pause, type ReconcileContext } from "./context.ts";
import { PermanentReconcileError, RetryLaterError } from "./failure.ts";
import type { VolumeMount } from "./machine_spec.ts";
import { BACKOFF, pollUntil } from "../backoff.ts";
import { ensureFinalSnapshot, restoreSource } from "./snapshot_step.ts";
import { applyVolumeMoves, type VolumeMoveTools } from "./volume_move.ts";
import { endRecoveryIfHostBack, recoverLostHost, startFailureRecoveryDue } from "./host_recovery.ts";
import { destroyMachine } from "./machine_step.ts";

/** Name of every volume this system creates (Fly: lowercase letters, digits, underscores, at most 30). */
export const VOLUME_NAME = "user_data";

/** Volume states on the way out; such a volume is neither used nor deleted again. */
const VOLUME_GONE_STATES = new Set(["destroyed", "destroying", "pending_destroy", "scheduling_destroy"]);

/** The volume part of a plan (`fly_plans.volume_size_gb` / `volume_mount_path`, both set or both null). */
const PlanVolumeSchema = z.object({
  volume_size_gb: z.number().int().positive().nullable().optional(),
  volume_mount_path: z.string().startsWith("/").nullable().optional(),
});

/** The volume a plan asks for. */
export interface PlanVolume {
  /** Size in GB. */
  sizeGb: number;
  /** Absolute mount path in the machine. */
  mountPath: string;
}

/** The plan's volume, or null when it has none. */
export function planVolume(plan: Plan): PlanVolume | null {
  const fields = PlanVolumeSchema.parse(plan);
  if (!fields.volume_size_gb || !fields.volume_mount_path) return null;
  return { sizeGb: fields.volume_size_gb, mountPath: fields.volume_mount_path };
}

/** Options of {@link ensureVolume}. */
export interface EnsureVolumeOptions {
  /** The user's app. */
  appName: string;
  /** The desired plan. */
  plan: Plan;
  /**
   * Move to the plan's region even though the volume is elsewhere: a new empty volume is created there (the
   * data does not follow). Default false: a region change is refused.
   */
  allowRegionChange?: boolean;
}

/** What {@link ensureVolume} leaves in place: the volume and the mount for the machine's config. */
export interface EnsuredVolume {
  volume: Volume;
  /** Pass to `desiredMachineConfig({ volume })`. */
  mount: VolumeMount;
  /**
   * Volumes a host recovery kept for a revert together with their old machine: a machine mounting one is
   * kept with it, neither the user's machine nor a duplicate (a restore's kept volume is detached instead).
   */
  kept: ReadonlySet<string>;
}

/** True for a failure after which the server may have done the work. */
function ambiguous(error: unknown): boolean {
  if (error instanceof FlyNetworkError) return error.mayHaveReachedServer;
  return error instanceof FlyApiError && (error.status >= 500 || error.status === 408);
}

/** The app's live volumes of ours. */
async function ourVolumes(ctx: ReconcileContext, appName: string): Promise<Volume[]> {
  const volumes = await ctx.fly.volumes.list(appName);
  return volumes.filter((volume) => volume.name === VOLUME_NAME && !VOLUME_GONE_STATES.has(volume.state));
}

/** The volume to keep: the one a machine uses, else the recorded one, else the oldest. */
function keeperOf(volumes: Volume[], recordedId: string | null): Volume | undefined {
  const byAge = [...volumes].sort((a, b) =>
    String(a.created_at ?? "").localeCompare(String(b.created_at ?? ""))
  );
  return byAge.find((volume) => volume.attached_machine_id) ??
    byAge.find((volume) => volume.id === recordedId) ?? byAge[0];
}

/** The create fields of a data policy (absent ones keep Fly's defaults). */
function policyFields(
  policy: VolumeDataPolicy,
): Pick<CreateVolumeRequest, "snapshot_retention" | "auto_backup_enabled"> {
  return {
    ...(policy.retentionDays === null ? {} : { snapshot_retention: policy.retentionDays }),
    ...(policy.autoBackup === null ? {} : { auto_backup_enabled: policy.autoBackup }),
  };
}

/** Sends a create; after an ambiguous failure, adopts the volume that arrived anyway if there is one. */
async function sendCreate(
  ctx: ReconcileContext,
  appName: string,
  request: CreateVolumeRequest,
): Promise<{ volume: Volume; recoveredAfter?: string }> {
  // Volumes there before the create are not the one it made.
  const before = new Set((await ourVolumes(ctx, appName)).map((volume) => volume.id));
  try {
    return { volume: await ctx.fly.volumes.create(appName, request) };
  } catch (error) {
    if (!ambiguous(error)) throw error;
    const { value: found } = await pollUntil({
      policy: BACKOFF.createTokenLookup,
      maxAttempts: 3,
      attempt: async () =>
        (await ourVolumes(ctx, appName)).find((volume) =>
          volume.region === request.region && !before.has(volume.id)
        ),
      settled: (volume) => volume !== undefined,
      wait: (ms) => pause(ctx, ms, "a silently created volume to show up"),
    });
    if (!found) throw error;
    return { volume: found, recoveredAfter: (error as Error).message };
  }
}

/** Restores `source` into a new volume; null when Fly no longer has the snapshot (recorded as gone). */
async function restoreVolume(
  ctx: ReconcileContext,
  appName: string,
  request: CreateVolumeRequest,
  source: VolumeSnapshotRow,
): Promise<Volume | null> {
  const sizeGb = Math.max(request.size_gb ?? 1, source.volume_size_gb ?? 1);
  try {
    const { volume, recoveredAfter } = await sendCreate(ctx, appName, {
      ...request,
      size_gb: sizeGb,
      snapshot_id: source.snapshot_id ?? undefined,
    });
    const createdAt = Date.parse(source.created_at ?? "");
    ctx.events.push({
      event_type: "volume_restored",
      status: "ok",
      metadata: {
        app_name: appName,
        volume_id: volume.id,
        region: volume.region,
        size_gb: volume.size_gb,
        snapshot_id: source.snapshot_id,
        snapshot_created_at: source.created_at,
        snapshot_age_s: Math.max(0, Math.round((Date.now() - createdAt) / 1000)),
        from_volume_id: source.volume_id,
        ...(recoveredAfter ? { recovered_after: recoveredAfter } : {}),
      },
    });
    return volume;
  } catch (error) {
    if (!(error instanceof FlyNotFoundError) || !source.snapshot_id) throw error;
    await ctx.repo.snapshots.markGone(source.snapshot_id);
    return null;
  }
}

/**
 * Creates the volume: from the user's newest snapshot in the region within its retention if there is one,
 * else empty (saying so when the user had data before).
 */
async function createVolume(
  ctx: ReconcileContext,
  appName: string,
  options: { region: string; sizeGb: number; policy: VolumeDataPolicy },
): Promise<Volume> {
  const { region, sizeGb, policy } = options;
  const request = { name: VOLUME_NAME, region, size_gb: sizeGb, ...policyFields(policy) };
  const source = await restoreSource(ctx, region);
  const restored = source ? await restoreVolume(ctx, appName, request, source) : null;
  if (restored) return restored;
  const { volume, recoveredAfter } = await sendCreate(ctx, appName, request);
  ctx.events.push({
    event_type: "volume_created",
    status: "ok",
    metadata: {
      app_name: appName,
      volume_id: volume.id,
      region,
      size_gb: volume.size_gb,
      ...(recoveredAfter ? { recovered_after: recoveredAfter } : {}),
    },
  });
  if (source || await ctx.repo.snapshots.any(ctx.row.user_id)) {
    ctx.events.push({
      event_type: "volume_restore_unavailable",
      status: "warning",
      error_details: source
        ? `snapshot ${source.snapshot_id} is gone from Fly: the new volume starts empty`
        : `no snapshot of the user's earlier volume in ${region} is within its retention: the new volume ` +
          `starts empty`,
      metadata: { app_name: appName, volume_id: volume.id, region },
    });
  }
  return volume;
}

/** Sets the plan's data policy on the volume where it differs (`volume_updated`). */
async function fitPolicy(
  ctx: ReconcileContext,
  appName: string,
  volume: Volume,
  policy: VolumeDataPolicy,
): Promise<Volume> {
  const wanted = policyFields(policy);
  const differs = (wanted.snapshot_retention !== undefined &&
    wanted.snapshot_retention !== volume.snapshot_retention) ||
    (wanted.auto_backup_enabled !== undefined && wanted.auto_backup_enabled !== volume.auto_backup_enabled);
  if (!differs) return volume;
  const updated = await ctx.fly.volumes.update(appName, volume.id, wanted);
  ctx.events.push({
    event_type: "volume_updated",
    status: "ok",
    metadata: {
      app_name: appName,
      volume_id: volume.id,
      from: {
        snapshot_retention: volume.snapshot_retention,
        auto_backup_enabled: volume.auto_backup_enabled,
      },
      to: wanted,
    },
  });
  return updated;
}

/** Grows `volume` to `sizeGb`, or refuses to shrink it. */
async function fitSize(
  ctx: ReconcileContext,
  appName: string,
  volume: Volume,
  sizeGb: number,
): Promise<Volume> {
  if (volume.size_gb === sizeGb) return volume;
  if (volume.size_gb > sizeGb) {
    throw new PermanentReconcileError(
      `volume ${volume.id} has ${volume.size_gb} GB and the plan wants ${sizeGb} GB: volumes cannot shrink ` +
        `(give the plan at least ${volume.size_gb} GB, or move the data and delete the volume by hand)`,
    );
  }
  const { volume: extended, needs_restart } = await ctx.fly.volumes.extend(appName, volume.id, sizeGb);
  // Most machines see the new size at once; older ones only after a restart, which flyctl leaves to the
  // operator too (a restart interrupts the user's app): a warning event says so (`ops restart`).
  ctx.events.push({
    event_type: "volume_extended",
    status: needs_restart ? "warning" : "ok",
    ...(needs_restart
      ? { error_details: "the machine sees the new size only after a restart (ops restart <user>)" }
      : {}),
    metadata: {
      app_name: appName,
      volume_id: volume.id,
      from_gb: volume.size_gb,
      to_gb: sizeGb,
      needs_restart,
    },
  });
  return extended;
}

/**
 * Deletes a volume of ours that no machine uses, once its final snapshot is created (a 404 means it is gone
 * already); a move that kept it stops counting it.
 */
async function deleteVolume(ctx: ReconcileContext, appName: string, volume: Volume, reason: string) {
  const snapshot = await ensureFinalSnapshot(ctx, appName, volume);
  try {
    await ctx.fly.volumes.delete(appName, volume.id);
  } catch (error) {
    if (!(error instanceof FlyNotFoundError)) throw error;
  }
  await ctx.repo.moves.markVolumesDeleted(ctx.row.user_id, [volume.id]);
  ctx.events.push({
    event_type: "volume_deleted",
    status: "info",
    metadata: {
      app_name: appName,
      volume_id: volume.id,
      region: volume.region,
      reason,
      final_snapshot_id: snapshot.snapshot_id,
    },
  });
}

/**
 * Makes the plan's volume exist in the plan's region with at least the plan's size; returns it with its
 * mount, or null when the plan has no volume (volumes of an earlier plan are then left alone: they go with
 * the app). Other unattached volumes of ours (duplicates, one left behind by an allowed region move) are
 * deleted.
 *
 * @throws {PermanentReconcileError} when the plan would shrink the volume, or move it to another region
 *   without `allowRegionChange`.
 */
export async function ensureVolume(
  ctx: ReconcileContext,
  options: EnsureVolumeOptions,
): Promise<EnsuredVolume | null> {
  const wanted = planVolume(options.plan);
  if (!wanted) return null;
  const { appName, plan } = options;
  const policy = await ctx.repo.snapshots.dataPolicy(plan.tier);
  const listed = await ourVolumes(ctx, appName);
  const tools: VolumeMoveTools = {
    restore: async (snapshotId, sizeGb) =>
      (await sendCreate(ctx, appName, {
        name: VOLUME_NAME,
        region: plan.region,
        size_gb: sizeGb,
        snapshot_id: snapshotId,
        ...policyFields(policy),
      })).volume,
    remove: (volume, reason) => deleteVolume(ctx, appName, volume, reason),
    removeMachine: (volume) =>
      destroyMachine(
        ctx,
        appName,
        { id: volume.attached_machine_id!, region: volume.region },
        "keep_expired",
      ),
  };
  const moves = await applyVolumeMoves(
    ctx,
    { appName, region: plan.region, sizeGb: wanted.sizeGb, volumes: listed },
    tools,
  );
  if (moves.recovery) await endRecoveryIfHostBack(ctx, moves.recovery, listed);
  // Volumes a restore keeps are neither the user's nor extras.
  let volumes = listed.filter((volume) => !moves.kept.has(volume.id));
  const recordedId = typeof ctx.row.volume_id === "string" ? ctx.row.volume_id : null;
  let keeper = moves.target ?? keeperOf(volumes, recordedId);
  const kept = new Set(moves.keptWithMachine);
  if (
    keeper &&
    (keeper.host_status === "unreachable" || await startFailureRecoveryDue(ctx, { appName, volume: keeper }))
  ) {
    const dead = keeper;
    keeper = await recoverLostHost(ctx, { appName, sizeGb: wanted.sizeGb, volume: dead }, tools);
    volumes = volumes.filter((volume) => volume.id !== dead.id);
    kept.add(dead.id);
  }
  if (keeper && keeper.region !== plan.region && !options.allowRegionChange) {
    throw new PermanentReconcileError(
      `volume ${keeper.id} is in region ${keeper.region} and the plan wants ${plan.region}: the data would ` +
        `not follow the machine; move it by hand or allow the region change explicitly`,
    );
  }
  const inRegion = keeper?.region === plan.region
    ? keeper
    : keeperOf(volumes.filter((volume) => volume.region === plan.region), recordedId);
  const volume = inRegion
    ? await fitPolicy(ctx, appName, await fitSize(ctx, appName, inRegion, wanted.sizeGb), policy)
    : await createVolume(ctx, appName, { region: plan.region, sizeGb: wanted.sizeGb, policy });
  for (const extra of volumes.filter((v) => v.id !== volume.id && !v.attached_machine_id)) {
    await deleteVolume(ctx, appName, extra, extra.region === plan.region ? "duplicate" : "region_changed");
  }
  return { volume, mount: { volumeId: volume.id, path: wanted.mountPath }, kept };
}

/**
 * Deletes the app's volumes of ours; call it once the app's machines are destroyed. Returns how many were
 * deleted (0 when the app is gone: Fly deletes the volumes with it).
 *
 * @throws {RetryLaterError} while a machine still holds a volume (Fly frees it shortly after the destroy).
 */
export async function deleteVolumes(ctx: ReconcileContext, appName: string): Promise<number> {
  let volumes: Volume[];
  try {
    volumes = await ourVolumes(ctx, appName);
  } catch (error) {
    if (!(error instanceof FlyNotFoundError)) throw error;
    await ctx.repo.moves.markVolumesDeleted(ctx.row.user_id); // they went with the app
    return 0;
  }
  const held = volumes.find((volume) => volume.attached_machine_id);
  if (held) {
    throw new RetryLaterError(`volume ${held.id} is still attached to machine ${held.attached_machine_id}`);
  }
  for (const volume of volumes) await deleteVolume(ctx, appName, volume, "deprovision");
  return volumes.length;
}
