/**
 * The health sweep (pg_cron calls it every minute through `check-fly-apps-health`). Within a time budget,
 * with separate shares so that no phase starves the others, and stopping to take new work before the budget
 * runs out:
 *
 * 0. the tier outbox is drained (so tier changes are due even when the every-second drainer is not
 *    running), with an alert when its oldest change waited longer than `ALERT_OUTBOX_AGE_S`;
 * 1. drift in the database: paid users without a row get one (due now);
 * 2. the fleet listing, every run: the state of every machine of ours from the org-wide listing (see
 *    {@link observeFleet}), one set-based write per page; then the safety net: rows whose observed state
 *    contradicts their desired state (absent but active, or a live machine of ours for a deleted row;
 *    present but deleted or suspended) become due now with a `state_contradiction` event;
 * 3. the detail check: a per-app check (see {@link checkApps}) of the flagged apps, the unhealthy ones and a
 *    rotating slice of the rest, repairing what is broken, within its share of the budget (before due work,
 *    so a backlog of due rows never starves observation);
 * 4. rollouts: each running rollout is driven forward (see {@link advanceRollouts}), when the sweep is given
 *    a rollouts repository: one look at each open health gate (never a wait on it; the detail check's look
 *    of this run when it looked at that machine, so no machine is looked at twice), due batches applied
 *    until three quarters of the budget;
 * 5. due work: rows whose reconcile is pending, backed off and due, or whose reconciler died (lease
 *    expired), reconciled through the controller in parallel lanes with the rest of the budget;
 * 6. orphan apps (see {@link handleOrphans}).
 *
 * Every run is stored in `fly_sweep_runs` with its report; a failing phase records its error in the report
 * and the others go on.
 *
 * @module
 */
import type { UserFlyApp } from "../db/user_fly_apps.ts";
import { type EngineDeps, takeNoWorkAfter } from "../engine/context.ts";
import { type ControllerResult, runClaimed } from "../controller/controller.ts";
import { checkApps, type DetailReport, emptyDetailReport } from "./detail_check.ts";
import { sendAlert } from "../controller/alerts.ts";
import { type FleetLister, type FleetReport, observeFleet } from "./fleet_listing.ts";
import { handleOrphans, type OrphanReport } from "./orphans.ts";
import type { RolloutsRepository } from "../db/fly_rollouts.ts";
import { advanceRollouts, GATE_LOOK_MS, type MachineLook } from "../rollout/driver.ts";
import { countRollouts, emptyRolloutsReport, rolloutDeps, type RolloutsReport } from "../rollout/apply.ts";

/** Options of one sweep (defaults from the configuration). */
export interface SweepOptions {
  /** Lease owner, unique per invocation. */
  owner: string;
  /** At most this many due rows reconciled. */
  limit: number;
  /** Time budget in ms. */
  budgetMs: number;
  /** At most this many apps checked in detail (default the configured `detailLimit`). */
  detailLimit?: number;
  /** The fleet listing's source: the org machine listing. */
  lister: FleetLister;
  /** Rollouts to drive (absent: the rollout phase is skipped). */
  rollouts?: RolloutsRepository;
}

/** What the due-work phase did. */
export interface DueReport {
  attempted: number;
  converged: number;
  progressing: number;
  failed: number;
  terminal: number;
  lease_lost: number;
  errored: number;
}

/** What one sweep did. */
export interface SweepReport {
  run_id: number | null;
  duration_ms: number;
  budget_ms: number;
  /** Tier changes drained from the outbox, and the oldest one's age before draining. */
  outbox: { drained: number; users: number; oldest_age_s: number | null };
  /** Rows created or flipped to present for paid users that had none. */
  drift_rows: number;
  fleet: FleetReport | { error: string };
  /** Rows made due because their observed state contradicted their desired state. */
  contradictions: number;
  reconciled: DueReport;
  observed: DetailReport;
  orphans: OrphanReport;
  rollouts: RolloutsReport;
  /** True when work was left for the next run because the budget ran out. */
  stopped_early: boolean;
}

/** Shares of the budget, from the sweep's start: when each phase stops taking new work. */
const PHASE_ENDS = { fleet: 0.2, detail: 0.5, rollouts: 0.75 };

/** The empty report of a sweep with `budgetMs`. */
function emptyReport(budgetMs: number): SweepReport {
  return {
    run_id: null,
    duration_ms: 0,
    budget_ms: budgetMs,
    outbox: { drained: 0, users: 0, oldest_age_s: null },
    drift_rows: 0,
    fleet: { error: "not run" },
    contradictions: 0,
    reconciled: {
      attempted: 0,
      converged: 0,
      progressing: 0,
      failed: 0,
      terminal: 0,
      lease_lost: 0,
      errored: 0,
    },
    observed: emptyDetailReport(),
    orphans: { found: [], deleted: [] },
    rollouts: emptyRolloutsReport(),
    stopped_early: false,
  };
}

/** Counts one due reconcile's result. */
function countDue(report: DueReport, result: ControllerResult): void {
  if (result.outcome in report) report[result.outcome as keyof DueReport]++;
}

/** Reconciles due rows in `concurrency` lanes, each claiming its next row when it is free. */
async function runDueWork(
  deps: EngineDeps,
  options: { owner: string; limit: number; stopAt: number; deadline: number; report: DueReport },
): Promise<void> {
  const { report } = options;
  const lane = async () => {
    while (Date.now() < options.stopAt && report.attempted < options.limit) {
      report.attempted++;
      let row: UserFlyApp | undefined;
      try {
        [row] = await deps.repo.leases.claimDue(options.owner, 1, deps.config.reconcile.leaseSeconds);
        if (!row) {
          report.attempted--;
          return;
        }
        countDue(
          report,
          await runClaimed(deps, row, {
            owner: options.owner,
            deadline: options.deadline,
            reason: "sweep_due",
          }),
        );
      } catch (error) {
        report.errored++;
        deps.log.warn("due reconcile failed", { user_id: row?.user_id, error });
        if (!row) return;
      }
    }
  };
  await Promise.all(Array.from({ length: deps.config.sweep.concurrency }, lane));
}

/** Runs `phase`; a failure is logged and returned as its message, never thrown. */
async function isolated(deps: EngineDeps, name: string, phase: () => Promise<void>): Promise<string | null> {
  try {
    await phase();
    return null;
  } catch (error) {
    deps.log.warn(`sweep phase ${name} failed`, { error });
    return (error as Error).message ?? String(error);
  }
}

/** Runs one sweep and stores its report. */
export async function runHealthSweep(deps: EngineDeps, options: SweepOptions): Promise<SweepReport> {
  const started = Date.now();
  const budget = options.budgetMs;
  const deadline = started + budget;
  const phaseEnd = (share: number) => started + budget * share;
  const stopTakingWorkAt = takeNoWorkAfter(deadline, budget);
  const report = emptyReport(budget);
  const errors: string[] = [];
  const note = (error: string | null) => error && errors.push(error);
  report.run_id = await deps.repo.sweeps.startSweepRun(budget).catch((error) => {
    deps.log.warn("could not open the sweep run record", { error });
    return null;
  });

  note(
    await isolated(deps, "outbox", async () => {
      report.outbox = await deps.repo.desired.drainOutbox(1_000);
      const age = report.outbox.oldest_age_s;
      const threshold = deps.config.alert.outboxAfterSeconds;
      if (age !== null && age > threshold) {
        await sendAlert(deps, {
          reason: "outbox_stale",
          oldest_age_s: Math.round(age),
          threshold_s: threshold,
        });
      }
    }),
  );

  note(
    await isolated(deps, "drift", async () => {
      report.drift_rows = (await deps.repo.desired.repairDesiredStateDrift(options.limit)).length;
    }),
  );

  let flagged = new Set<string>();
  let contradicted = new Set<string>();
  const fleetError = await isolated(deps, "fleet", async () => {
    const listing = await observeFleet(deps, {
      lister: options.lister,
      startedAt: new Date(started),
      deadline: phaseEnd(PHASE_ENDS.fleet),
    });
    report.fleet = listing.report;
    flagged = listing.flagged;
    contradicted = listing.contradicted;
  });
  if (fleetError) report.fleet = { error: fleetError };

  note(
    await isolated(deps, "contradictions", async () => {
      report.contradictions =
        (await deps.repo.sweeps.flagStateContradictions([...contradicted], options.limit))
          .length;
    }),
  );

  // The machines the detail check looks at, for the rollout phase's gates.
  const looks = new Map<string, MachineLook>();
  note(
    await isolated(deps, "detail", async () => {
      const detailLimit = options.detailLimit ?? deps.config.sweep.detailLimit;
      const checkedBefore = new Date(Date.now() - deps.config.sweep.minCheckAgeSeconds * 1000);
      const rotating = await deps.repo.sweeps.detailCandidates(detailLimit, checkedBefore);
      const ids = [...new Set([...flagged, ...rotating])].slice(0, detailLimit);
      await checkApps(deps, {
        owner: options.owner,
        ids,
        stopAt: Math.min(phaseEnd(PHASE_ENDS.detail), stopTakingWorkAt),
        repairDeadline: phaseEnd(PHASE_ENDS.detail),
        report: report.observed,
        looks,
      });
    }),
  );

  if (options.rollouts) {
    const rollouts = options.rollouts;
    note(
      await isolated(deps, "rollouts", async () => {
        const deadline = Math.min(phaseEnd(PHASE_ENDS.rollouts), stopTakingWorkAt);
        const phaseStarted = Date.now();
        const progress = await advanceRollouts(rolloutDeps(deps, rollouts), {
          owner: options.owner,
          deadline,
          lookMs: GATE_LOOK_MS.sweep,
          looks,
        });
        countRollouts(report.rollouts, progress);
        report.rollouts.ms = Date.now() - phaseStarted;
      }),
    );
  }

  note(
    await isolated(deps, "due", async () => {
      await runDueWork(deps, {
        owner: options.owner,
        limit: options.limit,
        stopAt: stopTakingWorkAt,
        deadline,
        report: report.reconciled,
      });
    }),
  );

  if (Date.now() < stopTakingWorkAt) {
    const orphanError = await isolated(
      deps,
      "orphans",
      () => handleOrphans(deps, { owner: options.owner, deadline: stopTakingWorkAt }, report.orphans),
    );
    if (orphanError) report.orphans.error = orphanError;
  }
  report.stopped_early = Date.now() >= stopTakingWorkAt;
  report.duration_ms = Date.now() - started;
  if (report.run_id !== null) {
    await deps.repo.sweeps.finishSweepRun(report.run_id, {
      durationMs: report.duration_ms,
      stoppedEarly: report.stopped_early,
      report,
      error: errors.length > 0 ? errors.join("; ") : undefined,
    }).catch((error) => deps.log.warn("could not store the sweep report", { error }));
  }
  return report;
}
