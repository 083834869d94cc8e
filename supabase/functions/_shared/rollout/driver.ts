/**
 * The rollout driver: one step, {@link advanceRollouts}, that the sweep calls on every run (and the admin API
 * after start and resume), moving each running rollout forward within a deadline.
 *
 * A rollout goes canaries first (batch 0), then batch after batch; the database hands out only the targets of
 * the lowest batch with open targets, so a batch starts only once the one before is done. Each target gets the
 * spec through the injected {@link ApplyTarget} (the controller: full-config update with `current_version`,
 * then started and health checks passing within the gate timeout):
 *
 * - forward: the rollout's target; once a digest is pinned (the first success records the digest Fly
 *   reported; until then targets go one at a time), every later target gets `image@digest`, so a tag re-pushed
 *   mid-rollout cannot split the fleet;
 * - rollback: the target's own previous spec (snapshotted at creation, with its digest), same strategy.
 *
 * A failed canary (once the canaries are done), or failures beyond `max_failures`, halt the rollout (a `halted` rollout event, an alert
 * through the webhook); when every target is done the rollout completes (or ends `rolled_back`). Pause and
 * abort take effect between targets. Progress lives in the database (targets are marked in flight before they
 * are applied), so a restarted function resumes where the last one stopped, in-flight targets first.
 *
 * @module
 */
import {
  isRolloutLeaseLost,
  type Rollout,
  type RolloutSpec,
  type RolloutsRepository,
  type RolloutTarget,
} from "../db/fly_rollouts.ts";
import type { EngineDeps } from "../engine/context.ts";
import { sendAlert } from "../controller/alerts.ts";
import { pinnedImage } from "../image_ref.ts";

/** What applying a spec to one user's machine came to. */
export interface TargetOutcome {
  /** `progressing`: not done yet (still booting, budget ran out); the target is applied again next run. */
  outcome: "healthy" | "failed" | "progressing";
  /** The digest Fly reported for the machine's image (`image_ref.digest`). */
  imageDigest?: string | null;
  /** Why it failed (no secret values). */
  error?: string | null;
}

/** Options of one {@link ApplyTarget} call. */
export interface ApplyOptions {
  /** The health gate: how long the machine may take to be started with passing checks. */
  healthTimeoutMs: number;
  /** Epoch ms after which no new wait should start (answer `progressing` instead). */
  deadline: number;
  /** Start an idle machine to run the health gate on it (else it gets the config and stays down). */
  wake?: boolean;
}

/** Applies `spec` over the user's plan to the user's machine and waits for it to be healthy. */
export type ApplyTarget = (
  userId: string,
  spec: RolloutSpec,
  options: ApplyOptions,
) => Promise<TargetOutcome>;

/** What the driver needs. */
export interface RolloutDeps extends Pick<EngineDeps, "config" | "log"> {
  rollouts: RolloutsRepository;
  applyTarget: ApplyTarget;
}

/** Options of {@link advanceRollouts}. */
export interface AdvanceOptions {
  /** Names this driver (the lease holder). */
  owner: string;
  /** Epoch ms after which no new target is started. */
  deadline: number;
}

/** What one {@link advanceRollouts} did to one rollout. */
export interface RolloutProgress {
  rollout_id: string;
  /** State after this step. */
  state: Rollout["state"];
  direction: Rollout["direction"];
  /** Targets applied in this step, by outcome. */
  applied: { healthy: number; failed: number; progressing: number };
  /** Whether this step halted the rollout (alert raised). */
  halted: boolean;
  /** Whether another driver took the rollout over mid-step. */
  lease_lost: boolean;
}

/** Actor recorded for the driver's own transitions (halt, complete). */
export const ROLLOUT_DRIVER_ACTOR = "rollout-driver";
/** The spec a claimed target gets now. */
export function specForTarget(rollout: Rollout, target: RolloutTarget): RolloutSpec {
  if (target.state === "rolling_back") return target.previous;
  const spec: RolloutSpec = { ...rollout.target };
  if (spec.image && rollout.image_digest) spec.digest = rollout.image_digest;
  return spec;
}

/**
 * Why the rollout must halt now, or null to go on. Forward, every canary is tried first and any failed canary
 * halts the rollout once they are done (they gate the rest); after them, and in a rollback, more failures than
 * `max_failures` halt it. `lastError` is the latest failure's message, for the alert.
 */
export function haltReason(rollout: Rollout, lastError: string | null): string | null {
  const detail = lastError ? `: ${lastError}` : "";
  if (rollout.direction === "forward" && rollout.canaries_open > 0) return null;
  if (rollout.direction === "forward" && rollout.canaries_failed > 0) {
    return `${rollout.canaries_failed} of ${rollout.canary_count} canaries failed${detail}`;
  }
  const [failed, what] = rollout.direction === "forward"
    ? [rollout.failed, "targets failed"]
    : [rollout.rollback_failed, "rollbacks failed"];
  if (failed > rollout.max_failures) {
    return `${failed} ${what}, more than max_failures ${rollout.max_failures}${detail}`;
  }
  return null;
}

/** Applies one target, turning a thrown error into a failed outcome. */
async function applyOne(
  deps: RolloutDeps,
  rollout: Rollout,
  target: RolloutTarget,
  options: ApplyOptions,
): Promise<TargetOutcome> {
  try {
    return await deps.applyTarget(target.user_id, specForTarget(rollout, target), options);
  } catch (error) {
    deps.log.warn("rollout target apply threw", { rollout_id: rollout.id, user_id: target.user_id, error });
    return { outcome: "failed", error: `apply failed: ${(error as Error).message ?? error}` };
  }
}

/** Halts the rollout and raises the alert (event by the transition, webhook here). */
async function halt(deps: RolloutDeps, rollout: Rollout, reason: string): Promise<Rollout> {
  const { changed, rollout: halted } = await deps.rollouts.transition(
    rollout.id,
    "halt",
    ROLLOUT_DRIVER_ACTOR,
    {
      error: reason,
    },
  );
  if (changed) {
    await sendAlert(deps, {
      rollout_id: rollout.id,
      reason: "rollout_halted",
      direction: rollout.direction,
      error: reason,
      failed: rollout.direction === "forward" ? halted.failed : halted.rollback_failed,
      total: halted.total,
    });
  }
  return halted;
}

/** Moves one leased rollout forward until it is done, stops, or the deadline passes. */
async function advanceOne(
  deps: RolloutDeps,
  start: Rollout,
  options: AdvanceOptions,
): Promise<RolloutProgress> {
  let rollout = start;
  const progress: RolloutProgress = {
    rollout_id: rollout.id,
    state: rollout.state,
    direction: rollout.direction,
    applied: { healthy: 0, failed: 0, progressing: 0 },
    halted: false,
    lease_lost: false,
  };
  const applyOptions = {
    healthTimeoutMs: rollout.health_timeout_s * 1000,
    deadline: options.deadline,
    wake: rollout.wake ?? false,
  };
  while (rollout.state === "running" && Date.now() < options.deadline) {
    // Failures recorded before a pause still count once the rollout is resumed.
    const pending = haltReason(rollout, null);
    if (pending) {
      rollout = await halt(deps, rollout, pending);
      progress.halted = true;
      break;
    }
    // Until a digest is pinned, an image rollout goes one target at a time (the first success pins it).
    const unpinned = rollout.direction === "forward" && rollout.target.image && !rollout.image_digest;
    const limit = unpinned ? 1 : Math.max(rollout.batch_size, rollout.canary_count);
    const targets = await deps.rollouts.claimTargets(rollout.id, options.owner, limit);
    if (targets.length === 0) {
      const fresh = await deps.rollouts.get(rollout.id);
      if (!fresh || fresh.state !== "running") return { ...progress, state: fresh?.state ?? rollout.state };
      rollout = (await deps.rollouts.transition(rollout.id, "complete", ROLLOUT_DRIVER_ACTOR)).rollout;
      break;
    }
    const outcomes = await Promise.all(
      targets.map((target) => applyOne(deps, rollout, target, applyOptions)),
    );
    let lastError: string | null = null;
    for (const [index, target] of targets.entries()) {
      const outcome = outcomes[index];
      progress.applied[outcome.outcome] += 1;
      const pins = outcome.outcome === "healthy" && target.state === "updating" && rollout.target.image;
      if (pins && outcome.imageDigest) {
        const pinned = pinnedImage(pins, outcome.imageDigest);
        rollout = {
          ...rollout,
          image_digest: await deps.rollouts.pinDigest(rollout.id, outcome.imageDigest, pinned),
        };
      }
      if (outcome.outcome === "failed") lastError = outcome.error ?? "failed";
      const recorded = await deps.rollouts.recordTarget(rollout.id, options.owner, {
        userId: target.user_id,
        outcome: outcome.outcome,
        imageDigest: outcome.imageDigest,
        error: outcome.error,
      });
      rollout = { ...recorded, image_digest: recorded.image_digest ?? rollout.image_digest };
    }
    const reason = rollout.state === "running" ? haltReason(rollout, lastError) : null;
    if (reason) {
      rollout = await halt(deps, rollout, reason);
      progress.halted = true;
    }
    // A target still on its way is applied again next run; don't spin on it now.
    if (outcomes.some((outcome) => outcome.outcome === "progressing")) break;
  }
  return { ...progress, state: rollout.state, direction: rollout.direction };
}

/**
 * One step of every running rollout this driver can lease: applies targets batch by batch until each rollout
 * completes, halts, is paused or aborted, or the deadline passes; then releases the leases.
 */
export async function advanceRollouts(
  deps: RolloutDeps,
  options: AdvanceOptions,
): Promise<RolloutProgress[]> {
  // A driver's lease on a rollout lasts as long as a row lease and is renewed the same way (every third of
  // it): a driver that dies (a killed function) frees its rollouts within that time.
  const leaseSeconds = deps.config.reconcile.leaseSeconds;
  const leased = await deps.rollouts.leaseRunning(options.owner, leaseSeconds);
  const mine = new Set(leased.map((rollout) => rollout.id));
  const heartbeat = setInterval(async () => {
    try {
      // Renews ours; a rollout that became leasable meanwhile is left to the next driver run.
      for (const renewed of await deps.rollouts.leaseRunning(options.owner, leaseSeconds)) {
        if (!mine.has(renewed.id)) await deps.rollouts.release(renewed.id, options.owner);
      }
    } catch (error) {
      deps.log.warn("rollout lease heartbeat failed", { error });
    }
  }, (leaseSeconds * 1000) / 3);
  try {
    return await advanceLeased(deps, leased, options);
  } finally {
    clearInterval(heartbeat);
  }
}

/** Drives each leased rollout in turn, releasing each lease afterwards. */
async function advanceLeased(
  deps: RolloutDeps,
  leased: Rollout[],
  options: AdvanceOptions,
): Promise<RolloutProgress[]> {
  const report: RolloutProgress[] = [];
  for (const rollout of leased) {
    try {
      report.push(await advanceOne(deps, rollout, options));
    } catch (error) {
      if (!isRolloutLeaseLost(error)) throw error;
      deps.log.warn("rollout taken over by another driver", { rollout_id: rollout.id });
      report.push({
        rollout_id: rollout.id,
        state: rollout.state,
        direction: rollout.direction,
        applied: { healthy: 0, failed: 0, progressing: 0 },
        halted: false,
        lease_lost: true,
      });
    } finally {
      await deps.rollouts.release(rollout.id, options.owner);
    }
  }
  return report;
}
