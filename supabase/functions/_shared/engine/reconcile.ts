/**
 * `reconcile(ctx, spec)`: one attempt at converging a user's Fly resources to the desired spec, in the spirit
 * of controller-runtime's `Reconcile -> Result`. It never records anything itself: it returns the outcome
 * with the observed patch and the events the attempt produced, and the controller records them.
 *
 * Idempotent and resumable at any step: every step first observes Fly, and what an attempt achieved is in
 * its patch whatever the outcome, so the next attempt goes on from there.
 *
 * @module
 */
import type { DesiredSpec } from "../db/user_fly_apps.ts";
import { FlyAbortedError, FlyNotFoundError } from "../fly/mod.ts";
import { appNameCandidate } from "./app_name.ts";
import { appOwnership, ensureApp } from "./app_step.ts";
import { pause, type ReconcileContext } from "./context.ts";
import {
  classifyFailure,
  DeadlineExceededError,
  type Failure,
  isLeaseLost,
  LeaseLostError,
  PermanentReconcileError,
  RetryLaterError,
} from "./failure.ts";
import {
  destroyAllMachines,
  ensureMachine,
  ensureStarted,
  ensureStopped,
  ourMachines,
  stopAllMachines,
} from "./machine_step.ts";
import { desiredMachineConfig } from "./machine_spec.ts";
import { currentMachine, machineTarget, planChange, targetChanges } from "./machine_target.ts";
import { ensurePublicIps } from "./network_step.ts";
import { healthChangedEvent, observe } from "./observe.ts";
import { idleAsAllowed } from "./health.ts";
import { ensureSecrets } from "./secrets_step.ts";
import { deleteVolumes, ensureVolume } from "./volume_step.ts";
import { BACKOFF, retryWhile } from "../backoff.ts";

/**
 * How an attempt ended. A converged attempt may ask to be due again at `requeueAt` (ISO time) even though
 * nothing is wrong: a downgraded app in its grace period is deleted then.
 */
export type ReconcileOutcome =
  | { outcome: "converged"; requeueAt?: string }
  | { outcome: "progressing" | "failed" | "terminal"; failure: Failure };

/**
 * Converges Fly for a present desired state: app, IPs, secrets (with the scoped credential), the plan's
 * volume, one machine mounting it (image, size and region by `machineTarget`), started (or stopped if held). A downgraded app still in its grace period
 * is resumed: the same app, volume and machine, started again.
 */
async function convergePresent(ctx: ReconcileContext, spec: DesiredSpec & { desired_state: "present" }) {
  const suspendedUntil = ctx.row.delete_after ?? null;
  // Whatever happens next, the app is wanted again: no grace runs out on it any more.
  ctx.patch.delete_after = null;
  const appName = await ensureApp(ctx);
  await ensurePublicIps(ctx, appName, spec.plan.public_services);
  const secrets = await ensureSecrets(ctx, appName);
  const machines = await ourMachines(ctx, appName);
  // Image, size and region: what the machine runs, unless the user changed tier or override (then the new
  // plan), a rollout of the user's batch or the user's override says otherwise.
  const current = currentMachine(machines, ctx.row.machine_id);
  const change = planChange(ctx.row, spec);
  const applyPlan = change.tierChanged || change.overrideChanged;
  const target = {
    plan: spec.plan,
    defaultImage: ctx.config.fly.appImage,
    rollout: spec.rollout,
    override: spec.override,
    current,
  };
  const plan = machineTarget({ ...target, applyPlan });
  const volume = await ensureVolume(ctx, { appName, plan });
  if (volume) ctx.patch.volume_id = volume.volume.id;
  let machine = await ensureMachine(ctx, appName, plan, secrets, {
    volume: volume?.mount,
    machines,
    keptVolumes: volume?.kept,
  });
  ctx.patch.machine_id = machine.id;
  const held = ctx.row.held_at !== null;
  // A machine Fly's proxy idled as the plan allows stays down: the next request wakes it.
  const idle = idleAsAllowed(machine.state, spec.plan.idle_action);
  if (held) machine = await ensureStopped(ctx, appName, machine);
  else if (!idle) machine = await ensureStarted(ctx, appName, machine);
  if (suspendedUntil) {
    ctx.events.push({
      event_type: "resumed",
      status: "ok",
      metadata: { app_name: appName, machine_id: machine.id, delete_after: suspendedUntil },
    });
  }
  // Drift against what the user should run: the plan, with what the user's rollout batch already got.
  const reference = machineTarget({ ...target, current: undefined });
  const observation = observe({
    machines: [machine],
    row: {
      ...ctx.row,
      status: "active",
      machine_id: machine.id,
      volume_id: volume?.volume.id ?? null,
      image_digest: machine.image_ref?.digest ?? null,
    },
    desired: {
      config: desiredMachineConfig({
        userId: ctx.row.user_id,
        plan: reference,
        image: reference.image ?? ctx.config.fly.appImage,
        createToken: "",
        volume: volume?.mount,
        held,
      }),
      region: reference.region,
      secretsDigest: null,
    },
    idleAction: spec.plan.idle_action,
  });
  const healthEvent = healthChangedEvent(ctx.row, observation);
  if (healthEvent) ctx.events.push(healthEvent);
  if (current && applyPlan) {
    ctx.events.push({
      event_type: "plan_applied",
      status: "ok",
      metadata: {
        from_tier: ctx.row.applied_tier ?? null,
        to_tier: spec.plan.tier,
        plan_version: spec.plan.plan_version ?? null,
        from_override_version: ctx.row.applied_override_version ?? null,
        to_override_version: spec.override?.version ?? null,
        machine_id: machine.id,
        changed: targetChanges(machineTarget(target), plan),
      },
    });
  }
  const deployed = ctx.events.some((e) =>
    e.event_type === "machine_created" || e.event_type === "machine_updated"
  );
  const now = new Date().toISOString();
  Object.assign(ctx.patch, {
    status: held ? "held" : "active",
    region: machine.region,
    cpu_kind: plan.cpu_kind,
    cpu_count: plan.cpus,
    memory_mb: plan.memory_mb,
    docker_image: machine.config.image ?? null,
    image_digest: machine.image_ref?.digest ?? null,
    deployed_at: deployed || !ctx.row.deployed_at ? now : ctx.row.deployed_at,
    deleted_at: null,
    health_status: observation.health,
    last_health_check_at: now,
    last_machine_state: machine.state,
    last_observed_at: now,
    drift: observation.drift,
    monthly_cost_estimate_usd: plan.monthly_cost_estimate_usd,
    applied_tier: spec.plan.tier,
    applied_plan_version: !current || applyPlan
      ? spec.plan.plan_version ?? null
      : ctx.row.applied_plan_version ?? spec.plan.plan_version ?? null,
    applied_override_version: spec.override?.version ?? null,
  });
}

/** The app to tear down: the recorded one, else the first candidate name if that app is ours. */
async function appToDelete(ctx: ReconcileContext): Promise<string | null> {
  const recorded = ctx.row.fly_app_name;
  const name = recorded ?? await appNameCandidate(ctx.row.user_id, 0, ctx.config.appNaming);
  const ownership = await appOwnership(ctx, name);
  if (ownership === "ours") return name;
  if (ownership === "foreign" && recorded) {
    throw new PermanentReconcileError(`the recorded app ${name} is not ours; refusing to delete it`);
  }
  return null;
}

/**
 * When the app of a downgraded user is deleted (ISO time), or null for at once: a grace already running
 * keeps its end (recorded in `delete_after`); a new downgrade gets `graceSeconds` from now.
 */
function deletionTime(ctx: ReconcileContext, graceSeconds: number, now: number): string | null {
  if (ctx.row.delete_after) return ctx.row.delete_after;
  return graceSeconds > 0 ? new Date(now + graceSeconds * 1000).toISOString() : null;
}

/**
 * Starts or keeps a downgrade's grace period: the machines are stopped (app, machine and volume kept for a
 * re-upgrade), the row is `suspended` until `deleteAfter`.
 */
async function suspend(ctx: ReconcileContext, appName: string, deleteAfter: string): Promise<void> {
  const machine = await stopAllMachines(ctx, appName);
  // A stopped machine costs nothing; the volume kept for a re-upgrade still costs its storage.
  const volumeGb = ctx.row.volume_id
    ? (await ctx.fly.volumes.list(appName)).reduce((sum, volume) => sum + volume.size_gb, 0)
    : 0;
  const storageCost = volumeGb > 0 ? await ctx.repo.status.storageMonthlyCostUsd(volumeGb) : 0;
  if (!ctx.row.delete_after) {
    ctx.events.push({
      event_type: "deprovision_suspended",
      status: "info",
      metadata: { app_name: appName, machine_id: machine?.id ?? null, delete_after: deleteAfter },
    });
  }
  const now = new Date().toISOString();
  Object.assign(ctx.patch, {
    status: "suspended",
    delete_after: deleteAfter,
    machine_id: machine?.id ?? null,
    health_status: "unknown",
    last_machine_state: machine?.state ?? "missing",
    last_observed_at: now,
    drift: {},
    monthly_cost_estimate_usd: storageCost,
  });
}

/** Deletes the app's volumes, waiting (within the budget) while just-destroyed machines still hold them. */
async function deleteVolumesOnceFree(ctx: ReconcileContext, appName: string): Promise<void> {
  let waitingFor = "the app's volumes to be released";
  await retryWhile(() => deleteVolumes(ctx, appName), {
    policy: BACKOFF.volumeRelease,
    retryable: (error) => {
      if (!(error instanceof RetryLaterError)) return false;
      waitingFor = error.message;
      return true;
    },
    wait: (ms) => pause(ctx, ms, waitingFor),
  });
}

/**
 * Converges Fly for an absent desired state. With a grace period (`graceSeconds`, or one already running)
 * the app is suspended until it ends, and the time is returned for the row to be due again then; otherwise
 * (or once the grace is over) machines are destroyed, volumes and the app deleted.
 */
async function convergeAbsent(ctx: ReconcileContext, graceSeconds: number): Promise<string | undefined> {
  const appName = await appToDelete(ctx);
  const deleteAfter = appName ? deletionTime(ctx, graceSeconds, Date.now()) : null;
  if (appName && deleteAfter && Date.parse(deleteAfter) > Date.now()) {
    await suspend(ctx, appName, deleteAfter);
    return deleteAfter;
  }
  if (appName) {
    if (ctx.row.status === "suspended") {
      ctx.events.push({
        event_type: "grace_expired",
        status: "info",
        metadata: { app_name: appName, delete_after: ctx.row.delete_after },
      });
    }
    await destroyAllMachines(ctx, appName);
    await deleteVolumesOnceFree(ctx, appName);
    try {
      await ctx.fly.apps.delete(appName);
      ctx.events.push({ event_type: "app_deleted", status: "ok", metadata: { app_name: appName } });
    } catch (error) {
      if (!(error instanceof FlyNotFoundError)) throw error;
    }
  }
  const now = new Date().toISOString();
  Object.assign(ctx.patch, {
    status: "deleted",
    machine_id: null,
    volume_id: null,
    delete_after: null,
    health_status: "unknown",
    last_machine_state: null,
    drift: {},
    deleted_at: ctx.row.deleted_at ?? now,
    monthly_cost_estimate_usd: 0,
    applied_tier: null,
    applied_plan_version: null,
    applied_override_version: null,
  });
  return undefined;
}

/**
 * Runs one attempt for `spec` on the leased row in `ctx`; the patch and events it produced are left in
 * `ctx.patch` and `ctx.events` whatever the outcome. A lost lease is thrown ({@link LeaseLostError}):
 * nothing may be recorded then.
 */
export async function reconcile(ctx: ReconcileContext, spec: DesiredSpec): Promise<ReconcileOutcome> {
  try {
    if (spec.desired_state === "present") {
      await convergePresent(ctx, spec);
      return { outcome: "converged" };
    }
    const grace = spec.deprovision_grace_seconds ?? ctx.config.deprovisionGraceSeconds;
    const requeueAt = await convergeAbsent(ctx, grace);
    return requeueAt ? { outcome: "converged", requeueAt } : { outcome: "converged" };
  } catch (error) {
    if (isLeaseLost(error)) throw error;
    if (ctx.signal.aborted) throw new LeaseLostError();
    // A Fly call cut off by the attempt's deadline: out of time, not a failure.
    const failure = classifyFailure(
      error instanceof FlyAbortedError ? new DeadlineExceededError("a Fly API call") : error,
    );
    return { outcome: failure.outcome, failure };
  }
}
