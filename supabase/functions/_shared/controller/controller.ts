/**
 * The controller: claim -> reconcile -> record, for the HTTP handlers and the sweep alike.
 *
 * - **Claim**: a row lease (one reconciler per user across function instances), renewed by a heartbeat
 *   while the attempt runs, so a crashed reconciler's user is free again within one lease period.
 * - **Reconcile**: {@link reconcile} converges Fly and returns `converged`, `progressing` (requeue soon, not
 *   a failure), `failed` (retryable) or `terminal` (permanent), with the patch and events it produced.
 * - **Record**: this module decides what the outcome means for the row (generation observed, backoff with
 *   full jitter, alerts) and records it with the events in one transaction that also releases the lease.
 *   Every path out of an attempt records or releases the lease, whatever throws.
 *
 * Only attempts the schedule made due count toward the backoff: an ops call or a duplicate kick that fails
 * while a retry is already scheduled leaves the schedule and the retry count alone.
 *
 * @module
 */
import type { AppEvent, DesiredSpec, UserFlyApp, UserFlyAppPatch } from "../db/user_fly_apps.ts";
import { type Alert, sendAlert } from "./alerts.ts";
import type { EngineDeps, ReconcileContext } from "../engine/context.ts";
import { isLeaseLost } from "../engine/failure.ts";
import { reconcile, type ReconcileOutcome } from "../engine/reconcile.ts";
import { rememberLeaseOwner, takeoverColdSince } from "./takeover.ts";
import { BACKOFF, backoffDelayMs, pollUntil, reconcileRetryBackoff } from "../backoff.ts";

/** What one controller call ended with. */
export type ControllerResult =
  | {
    outcome: "converged" | "progressing" | "failed" | "terminal";
    desiredState: "present" | "absent";
    app: UserFlyApp;
    /** Why it did not converge. */
    error?: string;
    /** For `progressing`: when the row is due again, in ms. */
    requeueAfterMs?: number;
  }
  | { outcome: "up_to_date"; app: UserFlyApp }
  | { outcome: "busy"; app: UserFlyApp }
  | { outcome: "no_row" }
  | { outcome: "lease_lost" };

/** One attempt on a row the caller leases. */
export interface AttemptOptions {
  /** Lease owner, unique per invocation. */
  owner: string;
  /** Epoch ms after which no new wait starts (the attempt then reports `progressing`). */
  deadline: number;
  /** Why (trigger reason, ops, sweep), for the events. */
  reason: string;
}

/** One request to reconcile a user. */
export interface ReconcileRequest extends AttemptOptions {
  userId: string;
  /**
   * The desired generation that caused the call, or `"current"` for a notice that names none (a batch kick:
   * whatever the row desires now); an already observed one is skipped. Without it the row is reconciled.
   */
  generation?: number | "current";
}

/** What recording an attempt writes: the patch, the events, and whether an alert goes out. */
export interface OutcomeRecord {
  patch: UserFlyAppPatch;
  events: AppEvent[];
  alert: { reason: Alert["reason"]; retryCount: number; message?: string } | null;
}

/** Inputs of {@link outcomeRecord}. */
export interface OutcomeInput {
  attempt: ReconcileOutcome;
  row: UserFlyApp;
  spec: DesiredSpec;
  generation: number;
  /** Whether the schedule made this attempt due (only those count toward the backoff). */
  due: boolean;
  /** The patch and events the attempt produced. */
  patch: UserFlyAppPatch;
  events: AppEvent[];
  reason: string;
  durationMs: number;
  config: EngineDeps["config"];
  /** Current time in epoch ms, and a uniform [0, 1) source for the jitter (injectable for tests). */
  now?: number;
  random?: () => number;
}

/** Reasons of attempts the sweep makes to repair an app start with this (a success adds a `repaired` event). */
export const REPAIR_REASON_PREFIX = "repair_";

/** Decides what an attempt's outcome writes to the row and the event log. */
export function outcomeRecord(input: OutcomeInput): OutcomeRecord {
  const { attempt, row, spec, generation, config } = input;
  const now = input.now ?? Date.now();
  const verb = spec.desired_state === "present" ? "provision" : "deprovision";
  const at = (ms: number) => new Date(now + ms).toISOString();
  const events: AppEvent[] = [
    {
      event_type: `${verb}_started`,
      metadata: { generation, reason: input.reason, tier: spec.tier, due: input.due },
    },
    ...input.events,
  ];
  const patch: UserFlyAppPatch = { ...input.patch };
  let alert: OutcomeRecord["alert"] = null;

  if (attempt.outcome === "converged") {
    Object.assign(patch, { observed_generation: generation, retry_count: 0, error_message: null });
    // Due again only when the attempt asked for it (a grace period's end).
    patch.next_attempt_at = attempt.requeueAt ?? null;
    events.push({
      event_type: `${verb}_completed`,
      status: "ok",
      metadata: {
        generation,
        app_name: patch.fly_app_name ?? row.fly_app_name,
        duration_ms: input.durationMs,
        ...(attempt.requeueAt ? { requeue_at: attempt.requeueAt } : {}),
      },
    });
    // A repair restores a present app; a row that became absent meanwhile (a downgrade drained after the
    // sweep claimed it) was just deprovisioned, which is no repair.
    if (verb === "provision" && input.reason.startsWith(REPAIR_REASON_PREFIX)) {
      events.push({
        event_type: "repaired",
        status: "ok",
        metadata: {
          reason: input.reason.slice(REPAIR_REASON_PREFIX.length),
          app_name: patch.fly_app_name ?? row.fly_app_name,
          machine_id: patch.machine_id ?? row.machine_id,
        },
      });
    }
    // A host recovery converges, and still alerts: the user lost the data written after the snapshot.
    const recovered = input.events.find((event) => event.event_type === "host_recovered");
    if (recovered) {
      alert = { reason: "host_recovered", retryCount: 0, message: recovered.error_details };
      events.push({
        event_type: "alert_raised",
        status: "warning",
        metadata: { reason: alert.reason, generation, desired_state: spec.desired_state },
        error_details: recovered.error_details,
      });
    }
    return { patch, events, alert };
  }

  const { failure } = attempt;
  if (failure.outcome === "progressing") {
    // An attempt the schedule did not make due (an ops call during a backoff) leaves the schedule alone.
    if (input.due) patch.next_attempt_at = at(failure.requeueAfterMs);
    if (!["active", "held"].includes(row.status) || spec.desired_state === "absent") {
      patch.status = verb === "provision" ? "provisioning" : "deprovisioning";
    }
    events.push({
      event_type: `${verb}_progressing`,
      status: "info",
      metadata: { generation, kind: failure.kind, requeue_after_ms: failure.requeueAfterMs },
      error_details: failure.message,
    });
    return { patch, events, alert };
  }

  patch.error_message = failure.message;
  if (failure.outcome === "terminal") {
    Object.assign(patch, { status: "error", retry_count: row.retry_count + 1 });
    patch.next_attempt_at = null;
    alert = { reason: "permanent_failure", retryCount: row.retry_count + 1 };
  } else {
    patch.status = "failed";
    if (input.due) {
      const retryCount = row.retry_count + 1;
      patch.retry_count = retryCount;
      patch.next_attempt_at = at(
        backoffDelayMs(reconcileRetryBackoff(config.reconcile.backoff), row.retry_count, input.random),
      );
      if (retryCount === config.alert.afterFailures) alert = { reason: "consecutive_failures", retryCount };
    }
  }
  events.push({
    event_type: `${verb}_failed`,
    status: failure.outcome === "terminal" ? "error" : "warning",
    metadata: { generation, kind: failure.kind, retryable: failure.outcome === "failed", counted: input.due },
    error_details: failure.message,
  });
  if (alert) {
    events.push({
      event_type: "alert_raised",
      status: "error",
      metadata: {
        reason: alert.reason,
        retry_count: alert.retryCount,
        generation,
        desired_state: spec.desired_state,
      },
      error_details: failure.message,
    });
  }
  return { patch, events, alert };
}

/** A running lease heartbeat: its signal aborts when the lease is lost. */
interface Heartbeat {
  signal: AbortSignal;
  stop(): void;
}

/** Renews `owner`'s lease on the row every third of the lease period until stopped. */
function startHeartbeat(deps: EngineDeps, appId: string, owner: string): Heartbeat {
  const lost = new AbortController();
  const leaseSeconds = deps.config.reconcile.leaseSeconds;
  const timer = setInterval(async () => {
    try {
      if (!(await deps.repo.leases.renewLease(appId, owner, leaseSeconds))) lost.abort();
    } catch (error) {
      // A missed beat is not a lost lease yet: the next one may succeed before the lease runs out.
      deps.log.warn("lease heartbeat failed", { error });
    }
  }, (leaseSeconds * 1000) / 3);
  return { signal: lost.signal, stop: () => clearInterval(timer) };
}

/** How long a Fly call in flight may run past the attempt's deadline before it is aborted, in ms. */
const DEADLINE_GRACE_MS = 1_000;

/** True when the schedule made the row due (or nothing was scheduled), as seen at claim time. */
function wasDue(row: UserFlyApp, claimedAt: number): boolean {
  return row.next_attempt_at === null || Date.parse(row.next_attempt_at) <= claimedAt;
}

/**
 * Runs one attempt on a row this caller has leased and records it (which releases the lease). Whatever
 * throws before the outcome is recorded, the lease is released.
 */
export async function runClaimed(
  deps: EngineDeps,
  row: UserFlyApp,
  options: AttemptOptions,
): Promise<ControllerResult> {
  const claimedAt = Date.now();
  rememberLeaseOwner(deps.fly, options.owner);
  const heartbeat = startHeartbeat(deps, row.id, options.owner);
  let settled = false;
  try {
    const spec = await deps.repo.desired.desiredSpec(row.user_id);
    const generation = spec.desired_generation ?? row.desired_generation;
    const log = deps.log.child({ user_id: row.user_id, generation, desired_state: spec.desired_state });
    const deadline = Math.min(options.deadline, claimedAt + deps.config.reconcile.budgetMs);
    // Fly calls (and their rate-limiter waits) end with the lease or shortly after the deadline.
    const callsEnd = AbortSignal.any([
      heartbeat.signal,
      AbortSignal.timeout(Math.max(0, deadline - Date.now()) + DEADLINE_GRACE_MS),
    ]);
    const coldSince = takeoverColdSince(deps.fly, row, claimedAt);
    if (coldSince !== undefined) {
      log.debug("lease taken over from another instance: this app's Fly buckets start cold", {
        released_by: row.lease_released_by,
        released_at: row.lease_released_at,
      });
    }
    const ctx: ReconcileContext = {
      ...deps,
      fly: deps.fly.scoped({ signal: callsEnd, coldSince }),
      log,
      row,
      deadline,
      signal: heartbeat.signal,
      patch: {},
      events: [],
    };
    const attempt = await reconcile(ctx, spec);
    const record = outcomeRecord({
      attempt,
      row,
      spec,
      generation,
      due: wasDue(row, claimedAt),
      patch: ctx.patch,
      events: ctx.events,
      reason: options.reason,
      durationMs: Date.now() - claimedAt,
      config: deps.config,
    });
    const app = await deps.repo.records.recordOutcome(row.id, options.owner, {
      generation,
      patch: record.patch,
      events: record.events,
    });
    settled = true;
    const error = attempt.outcome === "converged" ? undefined : attempt.failure.message;
    log[attempt.outcome === "converged" || attempt.outcome === "progressing" ? "info" : "warn"](
      `reconcile ${attempt.outcome}`,
      { app_name: app.fly_app_name, duration_ms: Date.now() - claimedAt, error },
    );
    if (record.alert) {
      await sendAlert(deps, {
        user_id: row.user_id,
        fly_app_name: app.fly_app_name,
        reason: record.alert.reason,
        error: record.alert.message ?? error ?? "",
        retry_count: record.alert.retryCount,
        desired_state: spec.desired_state,
      });
    }
    return {
      outcome: attempt.outcome,
      desiredState: spec.desired_state,
      app,
      error,
      requeueAfterMs: attempt.outcome !== "converged" && attempt.failure.outcome === "progressing"
        ? attempt.failure.requeueAfterMs
        : undefined,
    };
  } catch (error) {
    if (isLeaseLost(error)) {
      settled = true;
      deps.log.warn("lease lost; the attempt records nothing", { user_id: row.user_id });
      return { outcome: "lease_lost" };
    }
    throw error;
  } finally {
    heartbeat.stop();
    if (!settled) {
      await deps.repo.leases.release(row.id, options.owner).catch((error) =>
        deps.log.error("could not release a lease after a failed attempt", { user_id: row.user_id, error })
      );
    }
  }
}

/** Attempts one {@link reconcileUser} call makes at most when tier changes keep arriving meanwhile. */
const MAX_ROUNDS_PER_CALL = 5;

/**
 * Leases the user's row, waiting (until the deadline) while another reconciler holds it, then reconciles it
 * unless the requested generation was observed meanwhile; carries on while newer tier changes arrive.
 */
export async function reconcileUser(deps: EngineDeps, request: ReconcileRequest): Promise<ControllerResult> {
  const claimRow = () =>
    deps.repo.leases.claimUser(request.userId, request.owner, deps.config.reconcile.leaseSeconds);
  const { value: claim } = await pollUntil({
    policy: BACKOFF.leaseWait,
    attempt: claimRow,
    settled: (result) => result.status !== "leased",
    deadline: request.deadline,
  });
  if (claim.status === "leased") return { outcome: "busy", app: claim.app };
  if (claim.status === "not_found") return { outcome: "no_row" };
  const row = claim.app;
  const wanted = request.generation === "current" ? row.desired_generation : request.generation;
  const alreadyObserved = wanted !== undefined && row.observed_generation >= wanted &&
    row.observed_generation >= row.desired_generation && row.next_attempt_at === null;
  if (alreadyObserved) {
    await deps.repo.leases.release(row.id, request.owner);
    return { outcome: "up_to_date", app: row };
  }
  let result = await runClaimed(deps, row, request);
  // A tier change committed during the attempt left the row due again (its own kick may be lost, or give up
  // waiting for the lease): carry on with the newer generation now rather than leave it to the next sweep.
  for (let round = 1; round < MAX_ROUNDS_PER_CALL && Date.now() < request.deadline; round++) {
    if (result.outcome !== "converged" || result.app.desired_generation <= result.app.observed_generation) {
      break;
    }
    const again = await claimRow();
    if (again.status !== "claimed") break;
    result = await runClaimed(deps, again.app, request);
  }
  return result;
}
