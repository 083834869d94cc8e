/**
 * The health sweep (pg_cron calls it every minute through `check-fly-apps-health`). Within a time budget,
 * and stopping to take new work before the budget runs out:
 *
 * 1. drift in the database: paid users without a row get one (due now);
 * 2. due work: rows whose reconcile is pending, backed off and due, or whose reconciler died (lease expired),
 *    so a lost kick or a crashed function is caught up here;
 * 3. observation: the stalest active apps, with bounded concurrency; health from machine state and checks;
 *    repair (start a stopped machine, recreate a missing machine or app, remove duplicates) by reconciling;
 * 4. orphans: apps of ours in the Fly org that no row expects; reported, deleted only when configured.
 *
 * @module
 */
import { FlyNotFoundError, type Machine } from "../fly/mod.ts";
import type { UserFlyApp } from "../db/user_fly_apps.ts";
import { appNameCandidate, isManagedAppName } from "./app_name.ts";
import { mapBounded } from "./bounded.ts";
import type { EngineDeps } from "./context.ts";
import { reconcileClaimed, type ReconcileResult } from "./engine.ts";
import { machineHealth } from "./health.ts";
import { MANAGED_BY } from "./machine_spec.ts";

/** Options of one sweep (defaults from the configuration). */
export interface SweepOptions {
  /** Lease owner, unique per invocation. */
  owner: string;
  /** At most this many rows reconciled and this many apps observed. */
  limit: number;
  /** Time budget in ms. */
  budgetMs: number;
}

/** What one sweep did. */
export interface SweepReport {
  duration_ms: number;
  budget_ms: number;
  /** Rows created or flipped to present for paid users that had none. */
  drift_rows: number;
  reconciled: { attempted: number; converged: number; failed: number; lease_lost: number };
  observed: { checked: number; healthy: number; unhealthy: number; repaired: number; repair_failed: number };
  /** `error`: why the orphan scan failed, when it did (the rest of the report stands). */
  orphans: { found: string[]; deleted: string[]; error?: string };
  /** True when work was left for the next run because the budget ran out. */
  stopped_early: boolean;
}

/** Why an observed app needs a reconcile, or null. */
function repairReason(appMissing: boolean, live: Machine[], machine: Machine | undefined): string | null {
  if (appMissing) return "app_missing";
  if (!machine) return "machine_missing";
  if (live.length > 1) return "duplicate_machines";
  if (["stopped", "suspended", "failed"].includes(machine.state)) return `machine_${machine.state}`;
  return null;
}

function emptyReport(budgetMs: number): SweepReport {
  return {
    duration_ms: 0,
    budget_ms: budgetMs,
    drift_rows: 0,
    reconciled: { attempted: 0, converged: 0, failed: 0, lease_lost: 0 },
    observed: { checked: 0, healthy: 0, unhealthy: 0, repaired: 0, repair_failed: 0 },
    orphans: { found: [], deleted: [] },
    stopped_early: false,
  };
}

/** Runs one sweep. */
export async function runHealthSweep(deps: EngineDeps, options: SweepOptions): Promise<SweepReport> {
  const started = Date.now();
  const deadline = started + options.budgetMs;
  // A reconcile taken just before this point still needs room to finish inside the budget.
  const stopTakingWorkAt = deadline - Math.min(options.budgetMs / 3, 20_000);
  const hasTime = () => Date.now() < stopTakingWorkAt;
  const { concurrency, minCheckAgeSeconds } = deps.config.sweep;
  const leaseSeconds = deps.config.reconcile.leaseSeconds;
  const report = emptyReport(options.budgetMs);
  const countReconcile = (result: ReconcileResult) => {
    report.reconciled.attempted++;
    if (result.outcome === "converged") report.reconciled.converged++;
    else if (result.outcome === "failed") report.reconciled.failed++;
    else if (result.outcome === "lease_lost") report.reconciled.lease_lost++;
  };

  report.drift_rows = (await deps.repo.repairDesiredStateDrift(options.limit)).length;

  while (hasTime() && report.reconciled.attempted < options.limit) {
    const batch = Math.min(concurrency, options.limit - report.reconciled.attempted);
    const due = await deps.repo.claimDue(options.owner, batch, leaseSeconds);
    if (due.length === 0) break;
    const results = await mapBounded(
      due,
      concurrency,
      (row) => reconcileClaimed(deps, row, { owner: options.owner, deadline, reason: "sweep_due" }),
    );
    results.forEach(countReconcile);
  }

  while (hasTime() && report.observed.checked < options.limit) {
    const batch = Math.min(concurrency * 2, options.limit - report.observed.checked);
    const stale = await deps.repo.claimStale(
      options.owner,
      batch,
      leaseSeconds,
      minCheckAgeSeconds,
      new Date(started),
    );
    if (stale.length === 0) break;
    await mapBounded(
      stale,
      concurrency,
      (row) => observeAndRepair(deps, row, options.owner, deadline, report),
    );
  }

  if (hasTime()) {
    try {
      await handleOrphans(deps, options, deadline, report);
    } catch (error) {
      // The orphan scan reports (and optionally cleans up): Fly failing it must not discard what was done.
      report.orphans.error = (error as Error).message;
      deps.log.warn("orphan scan failed", { error });
    }
  }
  report.stopped_early = !hasTime();
  report.duration_ms = Date.now() - started;
  return report;
}

/** Observes one leased active row, records its health, and reconciles it when something is broken. */
async function observeAndRepair(
  deps: EngineDeps,
  row: UserFlyApp,
  owner: string,
  deadline: number,
  report: SweepReport,
): Promise<void> {
  report.observed.checked++;
  let live: Machine[] = [];
  let appMissing = !row.fly_app_name;
  if (row.fly_app_name) {
    try {
      const machines = await deps.fly.machines.list(row.fly_app_name, {
        metadata: { managed_by: MANAGED_BY, user_id: row.user_id },
      });
      live = machines.filter((m) => !["destroyed", "destroying", "replaced"].includes(m.state));
    } catch (error) {
      if (!(error instanceof FlyNotFoundError)) {
        await deps.repo.release(row.id, owner);
        deps.log.warn("health observation failed", { user_id: row.user_id, error });
        return;
      }
      appMissing = true;
    }
  }
  const machine = live.find((m) => m.id === row.machine_id) ?? live[0];
  const health = appMissing
    ? { status: "unhealthy" as const, details: { reason: "app_missing", app_name: row.fly_app_name } }
    : machineHealth(machine);
  const reason = repairReason(appMissing, live, machine);
  const { app } = await deps.repo.recordHealth(row.id, owner, health.status, health.details, reason === null);
  if (health.status === "healthy") report.observed.healthy++;
  else report.observed.unhealthy++;
  if (reason === null) return;

  deps.log.warn("repairing app", { user_id: row.user_id, app_name: row.fly_app_name, reason });
  const result = await reconcileClaimed(deps, app, { owner, deadline, reason: `repair_${reason}` });
  if (result.outcome === "converged") {
    report.observed.repaired++;
    await deps.repo.appendEvent(row.user_id, {
      event_type: "repaired",
      status: "ok",
      metadata: { reason, app_name: result.app.fly_app_name, machine_id: result.app.machine_id },
    });
  } else {
    report.observed.repair_failed++;
  }
}

/**
 * Finds apps of ours (by name pattern) that no row expects. With `FLY_DELETE_ORPHAN_APPS`, an orphan whose
 * row says absent is deprovisioned again through the engine, and one no row knows is deleted unless a
 * reconcile in flight may have just created it or one of its machines belongs to a user who should have it.
 */
async function handleOrphans(
  deps: EngineDeps,
  options: SweepOptions,
  deadline: number,
  report: SweepReport,
): Promise<void> {
  const apps = await deps.fly.apps.list(deps.config.fly.orgSlug);
  const expected = await deps.repo.expectedAppNames();
  const orphans = apps.map((a) => a.name).filter((name) =>
    isManagedAppName(name, deps.config.appNaming) && !expected.has(name)
  );
  report.orphans.found = orphans;
  if (orphans.length === 0) return;
  deps.log.warn("orphan apps found", { count: orphans.length, apps: orphans.slice(0, 20) });
  if (!deps.config.deleteOrphanApps) return;

  const known = await deps.repo.rowsByAppName(orphans);
  const inFlight = await deps.repo.usersInFlight();
  const inFlightNames = new Set(
    await Promise.all(
      inFlight.flatMap((userId) =>
        [0, 1, 2, 3, 4].map((i) => appNameCandidate(userId, i, deps.config.appNaming))
      ),
    ),
  );
  for (const name of orphans) {
    if (Date.now() >= deadline || inFlightNames.has(name)) continue;
    const row = known.get(name);
    if (row) {
      const claim = await deps.repo.claimUser(row.user_id, options.owner, deps.config.reconcile.leaseSeconds);
      if (claim.status !== "claimed") continue;
      const result = await reconcileClaimed(deps, claim.app, {
        owner: options.owner,
        deadline,
        reason: "orphan_app",
      });
      if (result.outcome === "converged") report.orphans.deleted.push(name);
      continue;
    }
    if (await deleteUnknownOrphan(deps, name)) report.orphans.deleted.push(name);
  }
}

/** Deletes an orphan no row knows, unless a machine in it belongs to a user who should have an app. */
async function deleteUnknownOrphan(deps: EngineDeps, name: string): Promise<boolean> {
  const machines = await deps.fly.machines.list(name);
  for (const machine of machines) {
    const userId = machine.config.metadata?.user_id;
    if (userId && (await deps.repo.desiredSpec(userId)).desired_state === "present") return false;
  }
  try {
    await deps.fly.apps.delete(name);
  } catch (error) {
    if (!(error instanceof FlyNotFoundError)) throw error;
  }
  deps.log.warn("orphan app deleted", { app_name: name });
  return true;
}
