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
import type { DesiredSpec, Plan } from "../db/user_fly_apps.ts";
import { FlyAbortedError, FlyNotFoundError } from "../fly/mod.ts";
import { appNameCandidate } from "./app_name.ts";
import { appOwnership, ensureApp } from "./app_step.ts";
import type { ReconcileContext } from "./context.ts";
import {
  classifyFailure,
  DeadlineExceededError,
  type Failure,
  isLeaseLost,
  LeaseLostError,
  PermanentReconcileError,
} from "./failure.ts";
import { destroyAllMachines, ensureMachine, ensureStarted, ensureStopped } from "./machine_step.ts";
import { ensurePublicIps } from "./network_step.ts";
import { healthChangedEvent, observe } from "./observe.ts";
import { ensureSecrets } from "./secrets_step.ts";

/** How an attempt ended. */
export type ReconcileOutcome =
  | { outcome: "converged" }
  | { outcome: "progressing" | "failed" | "terminal"; failure: Failure };

/** Converges Fly for a present desired state: app, IPs, secrets, one machine, started (or stopped if held). */
async function convergePresent(ctx: ReconcileContext, plan: Plan): Promise<void> {
  const appName = await ensureApp(ctx);
  await ensurePublicIps(ctx, appName, plan.public_services);
  const secrets = await ensureSecrets(ctx, appName);
  let machine = await ensureMachine(ctx, appName, plan, secrets);
  ctx.patch.machine_id = machine.id;
  const held = ctx.row.held_at !== null;
  machine = held ? await ensureStopped(ctx, appName, machine) : await ensureStarted(ctx, appName, machine);
  const observation = observe({ machines: [machine], row: { ...ctx.row, machine_id: machine.id } });
  const healthEvent = healthChangedEvent(ctx.row, observation);
  if (healthEvent) ctx.events.push(healthEvent);
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
    drift: {},
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
  const now = new Date().toISOString();
  Object.assign(ctx.patch, {
    status: "deleted",
    machine_id: null,
    health_status: "unknown",
    last_machine_state: null,
    drift: {},
    deleted_at: ctx.row.deleted_at ?? now,
    monthly_cost_estimate_usd: 0,
  });
}

/**
 * Runs one attempt for `spec` on the leased row in `ctx`; the patch and events it produced are left in
 * `ctx.patch` and `ctx.events` whatever the outcome. A lost lease is thrown ({@link LeaseLostError}):
 * nothing may be recorded then.
 */
export async function reconcile(ctx: ReconcileContext, spec: DesiredSpec): Promise<ReconcileOutcome> {
  try {
    if (spec.desired_state === "present") await convergePresent(ctx, spec.plan);
    else await convergeAbsent(ctx);
    return { outcome: "converged" };
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
