/**
 * The rollout driver: one step, {@link advanceRollouts}, that the sweep calls on every run and that
 * {@link driveNow} runs in the background after an operator's start, resume, rollback or abort. A step never
 * waits on a health gate: it applies what is due, looks at each gate in flight once (a bounded look), records
 * what it saw, and returns.
 *
 * A rollout goes canaries first (batch 0), then batch after batch (named users, then each stage); the database
 * hands out only the targets of the lowest batch with open targets, so a batch starts only once the one before
 * is done. Each target:
 *
 * 1. is applied through the injected {@link ApplyTarget} (the controller: full-config update with
 *    `current_version`); the moment the update is applied starts its **gate**, stored with the target;
 * 2. is looked at until its gate passes (started, every check passing: `healthy`), fails (the machine failed),
 *    or ends: `health_timeout_s` after the stored start, whichever driver run looks (a driver that replaced a
 *    crashed one measures from the same start), the target fails with what the last look saw. The sweep's
 *    driver run judges a gate from the look its own detail check took of that machine in the same run
 *    ({@link RecentLooks}) when it has one: one look per machine per sweep;
 * 3. or is left alone (`skipped`, with why) or applied without a gate (a stopped machine): the apply decides.
 *
 * Forward, the rollout's target goes out; once a digest is pinned (the first success records the digest Fly
 * reported; until then targets go one at a time) every later target gets `image@digest`. A rollback applies
 * each target's own previous spec (snapshotted at creation), same gates (a user whose reconcile is refused for
 * good is skipped as `refused`, see {@link refusalInRollback}): its image reference exactly as the
 * row recorded it (a tag goes back as the tag, so the machine reads as its plan again), the digest it ran kept
 * for the record.
 *
 * A failed canary (once the canaries are done), failures beyond `max_failures`, or a bake that saw more
 * machines fail than `max_failures`, halt the rollout (a `halted` rollout event, an alert through the webhook);
 * when every target is done the rollout completes (or ends `rolled_back`). Pause and abort take effect between
 * steps (they free the driver's lease: its next write fails and it stops).
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
import { type RolloutAlert, sendAlert } from "../controller/alerts.ts";
import { pinnedImage } from "../image_ref.ts";
import type { Machine } from "../fly/mod.ts";

/** What applying a spec to one user's machine, or looking at its gate, came to. */
export interface TargetOutcome {
  /**
   * `healthy` / `failed`: the gate passed / the machine failed; `gate`: applied, the gate is open (the driver
   * ends it when its time is up); `progressing`: the update is not applied yet (busy row, budget ran out);
   * `skipped`: left alone (see `skipReason`).
   */
  outcome: "healthy" | "failed" | "progressing" | "gate" | "skipped";
  /** The digest Fly reported for the machine's image (`image_ref.digest`). */
  imageDigest?: string | null;
  /** Why it failed (no secret values). */
  error?: string | null;
  /** `gate`: when the update was applied (epoch ms); the first one recorded stays. */
  gateStartedAt?: number;
  /** What the look saw: the machine's state. */
  machineState?: string;
  /** What the look saw: the checks not passing (critical or not reported yet). */
  failingChecks?: string[];
  /** `skipped`: why (`not_provisioned`, ...); `healthy`: `held` when a stopped machine got the config, no gate. */
  skipReason?: string;
  /**
   * `failed`: the user's own reconcile was refused for good (a terminal outcome: the user is in `error`,
   * alerted, waiting for an operator), not a machine that failed its update.
   */
  refused?: boolean;
}

/** One look at a machine: what Fly answered, and when the request was sent (epoch ms). */
export interface MachineLook {
  machine: Machine;
  at: number;
}

/**
 * Machines the caller looked at moments ago, by machine id: the sweep's detail check of this run. A gate whose
 * machine is among them is judged from that look instead of a Get Machine (when the look is recent enough:
 * see `lookAtGate`).
 */
export type RecentLooks = ReadonlyMap<string, MachineLook>;

/** Options of one {@link ApplyTarget} call. */
export interface ApplyOptions {
  /** Epoch ms after which no new wait should start (answer `progressing` or `gate` instead). */
  deadline: number;
  /** When the target's gate started (epoch ms): its update is applied, only look. Null: apply it first. */
  gateStartedAt: number | null;
  /** How long one look at a gate may poll (0: a single look). */
  lookMs: number;
  /** Machines looked at moments ago: a gate's first look takes its machine's from here when recent enough. */
  looks?: RecentLooks;
  /** Start an idle machine to run the health gate on it (else it gets the config and stays down). */
  wake: boolean;
  /** Roll out users with an image override too (else they are skipped). */
  includeOverridden: boolean;
}

/** Applies `spec` to the target's machine (unless its gate started already) and looks at its gate. */
export type ApplyTarget = (
  target: RolloutTarget,
  spec: RolloutSpec,
  options: ApplyOptions,
) => Promise<TargetOutcome>;

/** What the driver needs. */
export interface RolloutDeps extends Pick<EngineDeps, "config" | "log"> {
  rollouts: RolloutsRepository;
  applyTarget: ApplyTarget;
}

/**
 * How long one look at a gate may poll: the sweep looks once (from its own detail check's look of the machine
 * when it has one); a driver kicked by an operator polls a few seconds.
 */
export const GATE_LOOK_MS = { sweep: 0, background: 5_000 } as const;

/** Options of {@link advanceRollouts}. */
export interface AdvanceOptions {
  /** Names this driver (the lease holder). */
  owner: string;
  /** Epoch ms after which no new target is started. */
  deadline: number;
  /** How long one look at a gate may poll (default {@link GATE_LOOK_MS}.sweep: one look). */
  lookMs?: number;
  /** Machines the caller looked at moments ago (the sweep's detail check): see {@link RecentLooks}. */
  looks?: RecentLooks;
}

/** What one {@link advanceRollouts} did to one rollout. */
export interface RolloutProgress {
  rollout_id: string;
  /** State after this step. */
  state: Rollout["state"];
  direction: Rollout["direction"];
  /** Targets seen in this step, by outcome. */
  applied: Record<TargetOutcome["outcome"], number>;
  /** Whether this step halted the rollout (alert raised). */
  halted: boolean;
  /** Whether another driver took the rollout over mid-step. */
  lease_lost: boolean;
  /** What the running rollout waits for after this step: a gate, a bake, or null (ended, or out of time). */
  waiting: "gate" | "bake" | null;
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
 * Why an image rollout that ran out of targets without pinning a digest halts instead of completing: no
 * machine passed a gate on the image (none in scope was provisioned, or every target was skipped), so it is
 * unproven, and a completed rollout writes its image into the plans.
 */
export function unprovenImageReason(image: string): string {
  return `no machine ran ${image} and passed its health gate (no target was provisioned or every one was ` +
    `skipped): the image is unproven, so the plans keep theirs`;
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

/** What a look saw, in words: `machine started, checks health not passing`. */
export function describeLook(outcome: Pick<TargetOutcome, "machineState" | "failingChecks">): string {
  const parts = [];
  if (outcome.machineState) parts.push(`machine ${outcome.machineState}`);
  if (outcome.failingChecks?.length) parts.push(`checks not passing: ${outcome.failingChecks.join(", ")}`);
  return parts.join(", ");
}

/** A `gate` outcome whose time is up (measured from the stored start) becomes `failed`; others pass through. */
export function endGate(rollout: Rollout, outcome: TargetOutcome, now = Date.now()): TargetOutcome {
  if (outcome.outcome !== "gate" || outcome.gateStartedAt === undefined) return outcome;
  if (now < outcome.gateStartedAt + rollout.health_timeout_s * 1000) return outcome;
  const seen = describeLook(outcome);
  return {
    ...outcome,
    outcome: "failed",
    error: `health gate not passed within ${rollout.health_timeout_s} s${seen ? ` (${seen})` : ""}`,
  };
}

/**
 * A rollback leaves a user whose reconcile is refused for good alone (`skipped`, `refused`) instead of
 * counting a failure: it applied their previous spec and it was refused, so nothing it retries can help, and
 * halting the way back would leave every other machine on the rolled-out image. Forward, a refusal still
 * counts as a failure (it may be the new spec's doing).
 */
function refusalInRollback(rollout: Rollout, outcome: TargetOutcome): TargetOutcome {
  if (rollout.direction !== "rollback" || outcome.outcome !== "failed" || !outcome.refused) return outcome;
  return { outcome: "skipped", skipReason: "refused", error: outcome.error };
}

/** Applies (or looks at) one target, turning a thrown error into a failed outcome. */
async function applyOne(
  deps: RolloutDeps,
  rollout: Rollout,
  target: RolloutTarget,
  options: Omit<ApplyOptions, "gateStartedAt">,
): Promise<TargetOutcome> {
  const gateStartedAt = target.gate_started_at?.getTime() ?? null;
  try {
    const outcome = await deps.applyTarget(target, specForTarget(rollout, target), {
      ...options,
      gateStartedAt,
    });
    if (outcome.outcome !== "gate") return refusalInRollback(rollout, outcome);
    // The stored start wins: every run measures the gate from the moment the update was applied.
    return endGate(rollout, {
      ...outcome,
      gateStartedAt: gateStartedAt ?? outcome.gateStartedAt ?? Date.now(),
    });
  } catch (error) {
    deps.log.warn("rollout target apply threw", { rollout_id: rollout.id, user_id: target.user_id, error });
    return { outcome: "failed", error: `apply failed: ${(error as Error).message ?? error}` };
  }
}

/** Halts the rollout and raises the alert (event by the transition, webhook here). */
async function halt(
  deps: RolloutDeps,
  rollout: Rollout,
  reason: string,
  extra: Pick<RolloutAlert, "machines"> = {},
): Promise<Rollout> {
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
      ...extra,
    });
  }
  return halted;
}

/** Records one target's outcome (pinning the digest on the first forward success); returns the rollout. */
async function record(
  deps: RolloutDeps,
  rollout: Rollout,
  owner: string,
  target: RolloutTarget,
  outcome: TargetOutcome,
): Promise<Rollout> {
  let current = rollout;
  const pins = outcome.outcome === "healthy" && target.state === "updating" && !outcome.skipReason
    ? rollout.target.image
    : undefined;
  if (pins && outcome.imageDigest) {
    const pinned = pinnedImage(pins, outcome.imageDigest);
    current = {
      ...current,
      image_digest: await deps.rollouts.pinDigest(rollout.id, outcome.imageDigest, pinned),
    };
  }
  const recorded = await deps.rollouts.recordTarget(rollout.id, owner, {
    userId: target.user_id,
    outcome: outcome.outcome,
    imageDigest: outcome.imageDigest,
    error: outcome.error,
    gateStartedAt: outcome.gateStartedAt,
    machineState: outcome.machineState,
    failingChecks: outcome.failingChecks,
    skipReason: outcome.skipReason,
  });
  return { ...recorded, image_digest: recorded.image_digest ?? current.image_digest };
}

/** Moves one leased rollout forward until it waits on a gate or a bake, ends, or the deadline passes. */
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
    applied: { healthy: 0, failed: 0, progressing: 0, gate: 0, skipped: 0 },
    halted: false,
    lease_lost: false,
    waiting: null,
  };
  const applyOptions = {
    deadline: options.deadline,
    lookMs: options.lookMs ?? GATE_LOOK_MS.sweep,
    looks: options.looks,
    wake: rollout.wake ?? false,
    includeOverridden: rollout.include_overridden ?? false,
  };
  while (rollout.state === "running" && Date.now() < options.deadline) {
    // Failures recorded before a pause still count once the rollout is resumed.
    const pending = haltReason(rollout, null);
    if (pending) {
      rollout = await halt(deps, rollout, pending);
      progress.halted = true;
      break;
    }
    if (rollout.direction === "forward" && rollout.bake_s > 0) {
      const bake = await deps.rollouts.bake(rollout.id, options.owner);
      if (bake.state === "failed") {
        const names = bake.machines.map((m) =>
          `${m.fly_app_name ?? m.user_id}/${m.machine_id ?? "-"} (${m.why})`
        );
        const reason =
          `bake of batch ${bake.batch} failed: ${bake.machines.length} machine(s) failing, more ` +
          `than max_failures ${rollout.max_failures}: ${names.join(", ")}`;
        rollout = await halt(deps, rollout, reason, { machines: bake.machines });
        progress.halted = true;
        break;
      }
      if (bake.state === "baking") {
        progress.waiting = "bake";
        break;
      }
    }
    // Until a digest is pinned, an image rollout goes one target at a time (the first success pins it).
    const unpinned = rollout.direction === "forward" && rollout.target.image && !rollout.image_digest;
    const limit = unpinned ? 1 : Math.max(rollout.batch_size, rollout.canary_count);
    const targets = await deps.rollouts.claimTargets(rollout.id, options.owner, limit);
    if (targets.length === 0) {
      const fresh = await deps.rollouts.get(rollout.id);
      if (!fresh || fresh.state !== "running") return { ...progress, state: fresh?.state ?? rollout.state };
      // Machines created during the rollout run the plans' old image: update them too before completing.
      if (
        fresh.direction === "forward" && await deps.rollouts.adoptLateTargets(rollout.id, options.owner) > 0
      ) {
        continue;
      }
      if (fresh.direction === "forward" && fresh.target.image && !fresh.image_digest) {
        // Completing would write an image no machine ever ran into the plans, for every new user to get.
        rollout = await halt(deps, fresh, unprovenImageReason(fresh.target.image));
        progress.halted = true;
        break;
      }
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
      if (outcome.outcome === "failed") lastError = outcome.error ?? "failed";
      rollout = await record(deps, rollout, options.owner, target, outcome);
    }
    const reason = rollout.state === "running" ? haltReason(rollout, lastError) : null;
    if (reason) {
      rollout = await halt(deps, rollout, reason);
      progress.halted = true;
    }
    // A gate still open (or an update not applied yet) is looked at again by the next run; don't spin on it.
    if (outcomes.some((outcome) => outcome.outcome === "gate" || outcome.outcome === "progressing")) {
      if (rollout.state === "running") progress.waiting = "gate";
      break;
    }
  }
  return { ...progress, state: rollout.state, direction: rollout.direction };
}

/**
 * One step of every running rollout this driver can lease: applies targets batch by batch until each rollout
 * waits on a gate or a bake, completes, halts, is paused or aborted, or the deadline passes; then releases the
 * leases.
 */
export async function advanceRollouts(
  deps: RolloutDeps,
  options: AdvanceOptions,
): Promise<RolloutProgress[]> {
  // A driver's lease on a rollout lasts as long as a row lease and is renewed the same way (every third of
  // it): a driver that dies (a killed function) frees its rollouts within that time.
  const leaseSeconds = deps.config.reconcile.leaseSeconds;
  const leased = await deps.rollouts.leaseRunning(options.owner, leaseSeconds);
  if (leased.length === 0) return [];
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
        applied: { healthy: 0, failed: 0, progressing: 0, gate: 0, skipped: 0 },
        halted: false,
        lease_lost: true,
        waiting: null,
      });
    } finally {
      await deps.rollouts.release(rollout.id, options.owner);
    }
  }
  return report;
}

/** Options of {@link driveNow}. */
export interface DriveNowOptions {
  /** Names this driver (the lease holder). */
  owner: string;
  /** The rollout an operator just acted on. */
  rolloutId: string;
  /** Epoch ms after which no new target is started. */
  deadline: number;
  /** How long to wait for another driver (a sweep mid-look) to let go of the rollout (default 10 s). */
  leaseWaitMs?: number;
}

/** Pause between two tries to lease a rollout another driver holds. */
const LEASE_RETRY_MS = 250;

/**
 * Drives a rollout at once, step after step, until it waits on a gate or a bake, ends, or the deadline passes
 * (the sweep then goes on with it every run): what an operator's start, resume, rollback or abort runs in the
 * background. Each step looks at open gates for up to {@link GATE_LOOK_MS}.background, so a healthy batch is
 * followed by the next at once. While another driver holds the rollout (a sweep's bounded look), it waits
 * for the lease.
 */
export async function driveNow(deps: RolloutDeps, options: DriveNowOptions): Promise<RolloutProgress[]> {
  const steps: RolloutProgress[] = [];
  const leaseWaitEnds = Date.now() + (options.leaseWaitMs ?? 10_000);
  while (Date.now() < options.deadline) {
    const progress = await advanceRollouts(deps, {
      owner: options.owner,
      deadline: options.deadline,
      lookMs: GATE_LOOK_MS.background,
    });
    steps.push(...progress);
    const mine = progress.find((step) => step.rollout_id === options.rolloutId);
    if (mine && !mine.lease_lost) {
      // A step ends when the rollout waits, ends, or its deadline passes: nothing more to do at once.
      return steps;
    }
    const rollout = await deps.rollouts.get(options.rolloutId);
    if (!rollout || rollout.state !== "running" || Date.now() >= leaseWaitEnds) return steps;
    await new Promise((resolve) => setTimeout(resolve, LEASE_RETRY_MS));
  }
  return steps;
}
