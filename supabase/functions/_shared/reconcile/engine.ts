/**
 * The reconcile engine: converges one user's Fly resources to the desired state read from the current tier.
 * Idempotent and resumable at any step: every step first observes Fly, and what an attempt achieved is
 * recorded with its outcome, so the next attempt (after backoff, or by the health sweep) goes on from there.
 *
 * One reconciler per user at a time: the row's lease (taken with the claim) is checked again by every
 * `record_*` call, and an attempt whose lease was taken over records nothing.
 *
 * @module
 */
import type { DesiredSpec, Plan, UserFlyApp } from "../db/user_fly_apps.ts";
import { FlyNotFoundError } from "../fly/mod.ts";
import { sendAlert } from "./alerts.ts";
import { appNameCandidate } from "./app_name.ts";
import { appOwnership, ensureApp } from "./app_step.ts";
import type { EngineDeps, ReconcileContext } from "./context.ts";
import { classifyFailure, isLeaseLost, PermanentReconcileError } from "./failure.ts";
import { machineHealth } from "./health.ts";
import { destroyAllMachines, ensureMachine, ensureStarted } from "./machine_step.ts";
import { ensurePublicIps } from "./network_step.ts";
import { ensureSecrets } from "./secrets_step.ts";

/** What a reconcile call ended with. */
export type ReconcileResult =
  | { outcome: "converged"; desiredState: "present" | "absent"; app: UserFlyApp }
  | {
    outcome: "failed";
    desiredState: "present" | "absent";
    app: UserFlyApp;
    error: string;
    retryable: boolean;
  }
  | { outcome: "up_to_date"; app: UserFlyApp }
  | { outcome: "busy"; app: UserFlyApp }
  | { outcome: "no_row" }
  | { outcome: "lease_lost" };

/** One request to reconcile a user. */
export interface ReconcileRequest {
  userId: string;
  /** Lease owner, unique per invocation. */
  owner: string;
  /** Epoch ms after which no new wait starts. */
  deadline: number;
  /** Why (trigger reason, ops, sweep), for the events. */
  reason?: string;
  /** The desired generation that caused the call; an already observed one is skipped. */
  generation?: number;
}

/** Converges Fly for a present desired state. */
async function convergePresent(ctx: ReconcileContext, plan: Plan): Promise<void> {
  const appName = await ensureApp(ctx);
  await ensurePublicIps(ctx, appName, plan.public_services);
  const secrets = await ensureSecrets(ctx, appName);
  let machine = await ensureMachine(ctx, appName, plan, secrets);
  ctx.patch.machine_id = machine.id;
  machine = await ensureStarted(ctx, appName, machine);
  const deployed = ctx.events.some((e) =>
    e.event_type === "machine_created" || e.event_type === "machine_updated"
  );
  const now = new Date().toISOString();
  const health = machineHealth(machine);
  if (health.status !== ctx.row.health_status) {
    ctx.events.push({
      event_type: "health_changed",
      status: health.status === "healthy" ? "ok" : "warning",
      metadata: { from: ctx.row.health_status, to: health.status, details: health.details },
    });
  }
  Object.assign(ctx.patch, {
    status: "active",
    region: machine.region,
    cpu_kind: plan.cpu_kind,
    cpu_count: plan.cpus,
    memory_mb: plan.memory_mb,
    docker_image: machine.config.image,
    image_digest: machine.image_ref?.digest ?? null,
    deployed_at: deployed || !ctx.row.deployed_at ? now : ctx.row.deployed_at,
    deleted_at: null,
    health_status: health.status,
    last_health_check_at: now,
    monthly_cost_estimate_usd: plan.monthly_cost_estimate_usd,
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

/** Converges Fly for an absent desired state: machines destroyed, app deleted. */
async function convergeAbsent(ctx: ReconcileContext): Promise<void> {
  const appName = await appToDelete(ctx);
  if (appName) {
    await destroyAllMachines(ctx, appName);
    try {
      await ctx.fly.apps.delete(appName);
      ctx.events.push({ event_type: "app_deleted", status: "ok", metadata: { app_name: appName } });
    } catch (error) {
      if (!(error instanceof FlyNotFoundError)) throw error;
    }
  }
  Object.assign(ctx.patch, {
    status: "deleted",
    machine_id: null,
    health_status: "unknown",
    deleted_at: ctx.row.deleted_at ?? new Date().toISOString(),
    monthly_cost_estimate_usd: 0,
  });
}

/** Runs one attempt on a row this caller has leased, and records its outcome (which releases the lease). */
export async function reconcileClaimed(
  deps: EngineDeps,
  row: UserFlyApp,
  request: Omit<ReconcileRequest, "userId" | "generation">,
): Promise<ReconcileResult> {
  const spec: DesiredSpec = await deps.repo.desiredSpec(row.user_id);
  const generation = spec.desired_generation ?? row.desired_generation;
  const verb = spec.desired_state === "present" ? "provision" : "deprovision";
  const log = deps.log.child({ user_id: row.user_id, generation, desired_state: spec.desired_state });
  const ctx: ReconcileContext = { ...deps, log, row, deadline: request.deadline, patch: {}, events: [] };
  const started = Date.now();
  await deps.repo.appendEvent(row.user_id, {
    event_type: `${verb}_started`,
    metadata: { generation, reason: request.reason ?? null, tier: spec.tier },
  });
  try {
    if (spec.desired_state === "present") await convergePresent(ctx, spec.plan);
    else await convergeAbsent(ctx);
    ctx.events.push({
      event_type: `${verb}_completed`,
      status: "ok",
      metadata: {
        generation,
        app_name: ctx.patch.fly_app_name ?? row.fly_app_name,
        duration_ms: Date.now() - started,
      },
    });
    const app = await deps.repo.recordSuccess(row.id, request.owner, generation, ctx.patch, ctx.events);
    log.info(`${verb} converged`, { app_name: app.fly_app_name, duration_ms: Date.now() - started });
    return { outcome: "converged", desiredState: spec.desired_state, app };
  } catch (error) {
    if (isLeaseLost(error)) return { outcome: "lease_lost" };
    const failure = classifyFailure(error);
    log.warn(`${verb} failed`, { kind: failure.kind, retryable: failure.retryable, error: failure.message });
    ctx.events.push({
      event_type: `${verb}_failed`,
      status: failure.retryable ? "warning" : "error",
      metadata: { generation, kind: failure.kind, retryable: failure.retryable },
      error_details: failure.message,
    });
    let record;
    try {
      record = await deps.repo.recordFailure(
        row.id,
        request.owner,
        generation,
        { ...failure, alertAfter: deps.config.alert.afterFailures },
        ctx.patch,
        ctx.events,
      );
    } catch (recordError) {
      if (isLeaseLost(recordError)) return { outcome: "lease_lost" };
      throw recordError;
    }
    if (record.alertRaised) {
      await sendAlert(deps, {
        user_id: row.user_id,
        fly_app_name: record.app.fly_app_name,
        reason: failure.retryable ? "consecutive_failures" : "permanent_failure",
        error: failure.message,
        retry_count: record.app.retry_count,
        desired_state: spec.desired_state,
      });
    }
    return {
      outcome: "failed",
      desiredState: spec.desired_state,
      app: record.app,
      error: failure.message,
      retryable: failure.retryable,
    };
  }
}

/** Attempts one {@link reconcileUser} call makes at most when tier changes keep arriving meanwhile. */
const MAX_ROUNDS_PER_CALL = 5;

/** First and longest pause between two claims of a row another reconciler holds, in ms. */
const LEASE_POLL_MS = { first: 250, max: 2_000 };

/**
 * Leases the user's row, waiting (until the deadline) while another reconciler holds it, then reconciles it
 * unless the requested generation was observed meanwhile; see {@link ReconcileResult} for the outcomes.
 */
export async function reconcileUser(deps: EngineDeps, request: ReconcileRequest): Promise<ReconcileResult> {
  const claimRow = () =>
    deps.repo.claimUser(request.userId, request.owner, deps.config.reconcile.leaseSeconds);
  let claim = await claimRow();
  for (
    let delay = LEASE_POLL_MS.first;
    claim.status === "held";
    delay = Math.min(delay * 2, LEASE_POLL_MS.max)
  ) {
    if (Date.now() + delay >= request.deadline) return { outcome: "busy", app: claim.app };
    await new Promise((resolve) => setTimeout(resolve, delay));
    claim = await claimRow();
  }
  if (claim.status === "not_found") return { outcome: "no_row" };
  const row = claim.app;
  const alreadyObserved = request.generation !== undefined && row.observed_generation >= request.generation &&
    row.observed_generation >= row.desired_generation && row.next_attempt_at === null;
  if (alreadyObserved) {
    await deps.repo.release(row.id, request.owner);
    return { outcome: "up_to_date", app: row };
  }
  let result = await reconcileClaimed(deps, row, request);
  // A tier change committed during the attempt left the row due again (its own kick may be lost, or give up
  // waiting for the lease): carry on with the newer generation now rather than leave it to the next sweep.
  for (let round = 1; round < MAX_ROUNDS_PER_CALL && Date.now() < request.deadline; round++) {
    if (result.outcome !== "converged" || result.app.desired_generation <= result.app.observed_generation) {
      break;
    }
    const again = await claimRow();
    if (again.status !== "claimed") break;
    result = await reconcileClaimed(deps, again.app, request);
  }
  return result;
}
