/**
 * The rollout driver's {@link ApplyTarget}, done by the controller, and what decides a target's path:
 *
 * - {@link skipReason}: a target the rollout leaves alone (`skipped`, with why): a user not provisioned yet
 *   (no app or machine, and none on its way: it gets the plan when it is created; one whose first machine is
 *   being created is waited for, {@link firstMachineOnItsWay}, then updated like the others), or one
 *   whose image an operator pinned with an override;
 * - {@link gatelessReason}: the stopped-machine rule: a machine meant to stay stopped (a held user, or an idle
 *   one that Fly's proxy stopped or suspended as its plan allows) gets the rollout's config through the
 *   controller, which leaves it down; it counts as applied (`applied (held)`, `applied (idle)`), without the
 *   gate (a stopped machine could never pass it), and starts on the new image when released or woken.
 *   Canaries are drawn from running users, so the gate that pins the digest is a real one. With the
 *   rollout's `wake`, an idle machine is started for the gate instead, and the proxy idles it again;
 * - every other target: the user's row is reconciled (reason `rollout`; the desired spec then carries the
 *   rollout's spec for the user, so `ensureMachine` sends the full-config update with `current_version`);
 *   that moment starts the target's gate, and the machine is looked at (see {@link lookAtGate}). A target
 *   whose gate started earlier is only looked at: no second update; in a sweep, from the sweep's own detail
 *   check of that machine in the same run when it has one (no second look at the same machine).
 *
 * @module
 */
import type { EngineDeps } from "../engine/context.ts";
import { reconcileUser } from "../controller/controller.ts";
import type { RolloutsRepository, TargetApp } from "../db/fly_rollouts.ts";
import type { ApplyTarget, MachineLook, RolloutDeps, RolloutProgress, TargetOutcome } from "./driver.ts";
import { BACKOFF, pollUntil } from "../backoff.ts";
import { failingChecks, healthGateVerdict } from "../engine/health.ts";
import { FlyPreconditionFailedError } from "../fly/mod.ts";

/** Reason recorded on the reconciles a rollout makes. */
export const ROLLOUT_RECONCILE_REASON = "rollout";

/** Why a target is left alone. */
export type SkipReason = "not_provisioned" | "overridden";

/**
 * Why the rollout leaves this user's machine alone, or null to apply it. The one place that decides: a user
 * not provisioned yet, or one whose image an operator pinned with an override (`ops override --image`: the
 * override wins over a rollout until it is cleared, so the rollout says so instead of counting it updated),
 * unless the rollout includes overridden users (`--include-overridden`: its image wins for them).
 */
export function skipReason(
  app: TargetApp | null,
  desired: { override?: { image?: string | null } | null } | null,
  options: { includeOverridden: boolean },
): SkipReason | null {
  if (!app || !app.fly_app_name || !app.machine_id) return "not_provisioned";
  if (desired?.override?.image && !options.includeOverridden) return "overridden";
  return null;
}

/**
 * Whether a user without a machine is getting one now (a row `pending` or `provisioning`): the rollout then
 * waits for it rather than skipping it as not provisioned.
 */
export function firstMachineOnItsWay(app: TargetApp | null): boolean {
  return app?.status === "pending" || app?.status === "provisioning";
}

/**
 * The stopped-machine rule: why this user's machine gets the config without a health gate (it is meant to stay
 * stopped: held, or idle unless the rollout wakes idle machines), or null for the gate. The target then counts as applied (`healthy`, with this reason).
 */
export function gatelessReason(
  app: { held_at: unknown; health_status?: string | null },
  options: { wake: boolean },
): "held" | "idle" | null {
  if (app.held_at) return "held";
  if (app.health_status === "idle" && !options.wake) return "idle";
  return null;
}

/** Checks the machine's config asks for that Fly does not report passing (critical or not reported). */
function checksNotPassing(machine: Parameters<typeof healthGateVerdict>[0]): string[] {
  const wanted = Object.keys(machine.config?.checks ?? {});
  const passing = new Set((machine.checks ?? []).filter((c) => c.status === "passing").map((c) => c.name));
  return [...new Set([...failingChecks(machine), ...wanted.filter((name) => !passing.has(name))])].sort();
}

/**
 * How long after a gate's start a look taken elsewhere (the sweep's detail check) must have been sent to
 * count for the gate: more than any clock difference between two function instances, so that a look sent
 * before another driver applied the update (the old machine, which may well pass) is never taken for it.
 */
export const RECENT_LOOK_MARGIN_MS = 5_000;

/**
 * Whether `recent`, a look taken elsewhere, sees the machine as its gate does: sent at least
 * {@link RECENT_LOOK_MARGIN_MS} after the gate started (the update was applied before the gate started).
 */
function lookCountsForGate(recent: MachineLook | undefined, gateStartedAt: number): boolean {
  return recent !== undefined && recent.at >= gateStartedAt + RECENT_LOOK_MARGIN_MS;
}

/**
 * Looks at the machine's gate: once, or polling for up to `lookMs` (never past `deadline`). `healthy` when it
 * passes, `failed` when the machine failed, else `gate` with what it saw (the driver ends the gate); a look
 * that failed (Fly unreachable) leaves the gate open. `recent`, a look at the machine taken moments ago (the
 * sweep's detail check), is the first look when it counts for the gate ({@link lookCountsForGate}) instead
 * of a Get Machine.
 */
export async function lookAtGate(
  deps: Pick<EngineDeps, "fly">,
  target: { appName: string; machineId: string; gateStartedAt: number },
  look: { lookMs: number; deadline: number; recent?: MachineLook },
): Promise<TargetOutcome> {
  let recent = lookCountsForGate(look.recent, target.gateStartedAt) ? look.recent?.machine : undefined;
  const once = async (): Promise<TargetOutcome> => {
    let machine;
    try {
      machine = recent ?? await deps.fly.machines.get(target.appName, target.machineId);
      recent = undefined;
    } catch (error) {
      // A look that failed decides nothing: the gate stays open (and still ends at its time).
      return {
        outcome: "gate",
        gateStartedAt: target.gateStartedAt,
        error: `look failed: ${(error as Error).message}`,
      };
    }
    const imageDigest = machine.image_ref?.digest ?? null;
    const seen = { imageDigest, machineState: machine.state, failingChecks: checksNotPassing(machine) };
    switch (healthGateVerdict(machine)) {
      case "pass":
        return { outcome: "healthy", ...seen, failingChecks: [] };
      case "fail":
        return { outcome: "failed", ...seen, error: `machine ${machine.id} is ${machine.state}` };
    }
    return { outcome: "gate", gateStartedAt: target.gateStartedAt, ...seen };
  };
  const { value } = await pollUntil({
    policy: BACKOFF.healthGate,
    attempt: once,
    settled: (outcome) => outcome.outcome !== "gate",
    deadline: Math.min(look.deadline, Date.now() + look.lookMs),
    ...(look.lookMs <= 0 ? { maxAttempts: 1 } : {}),
  });
  return value;
}

/**
 * The driver's apply through the controller. `spec` is not passed on: the controller reads the same spec
 * from the database (`private.fly_rollout_spec_for_user`, in the desired spec), one source for both.
 */
export function controllerApply(deps: EngineDeps): ApplyTarget {
  return async (target, _spec, { deadline, gateStartedAt, lookMs, looks, wake, includeOverridden }) => {
    if (gateStartedAt !== null && target.app?.fly_app_name && target.app.machine_id) {
      const machine = { appName: target.app.fly_app_name, machineId: target.app.machine_id };
      const recent = looks?.get(target.app.machine_id);
      return await lookAtGate(deps, { ...machine, gateStartedAt }, { lookMs, deadline, recent });
    }
    const desired = target.app ? await deps.repo.desired.desiredSpec(target.user_id) : null;
    const present = desired?.desired_state === "present" ? desired : null;
    const skip = skipReason(target.app, present, { includeOverridden });
    if (skip === "not_provisioned" && present && firstMachineOnItsWay(target.app)) {
      // Skipping now would leave the machine about to be created on the image it read before the rollout
      // reached it (and the plan changes only when the rollout completes): wait for it, then update it.
      return { outcome: "progressing", error: "waiting for the user's first machine" };
    }
    if (skip) return { outcome: "skipped", skipReason: skip };
    if (!desired || desired.desired_state !== "present") return { outcome: "healthy" };
    const result = await reconcileUser(deps, {
      userId: target.user_id,
      owner: `rollout-${crypto.randomUUID()}`,
      deadline,
      reason: ROLLOUT_RECONCILE_REASON,
    });
    switch (result.outcome) {
      case "no_row":
        return { outcome: "skipped", skipReason: "not_provisioned" };
      case "busy":
      case "lease_lost":
        return { outcome: "progressing" };
      case "failed":
        return { outcome: "failed", error: result.error ?? result.outcome };
      case "terminal":
        return { outcome: "failed", refused: true, error: result.error ?? result.outcome };
      case "progressing":
        return { outcome: "progressing", error: result.error ?? null };
    }
    if ("desiredState" in result && result.desiredState === "absent") return { outcome: "healthy" };
    const { fly_app_name: appName, machine_id: machineId } = result.app;
    if (!appName || !machineId) return { outcome: "failed", error: "the reconcile left no machine" };
    const applied = Date.now();
    const gateless = gatelessReason(result.app, { wake });
    if (gateless) {
      const machine = await deps.fly.machines.get(appName, machineId);
      deps.log.info(
        `rollout target applied (${gateless}): config applied, machine left down, no health gate`,
        {
          user_id: target.user_id,
          state: machine.state,
        },
      );
      return {
        outcome: "healthy",
        skipReason: gateless,
        imageDigest: machine.image_ref?.digest ?? null,
        machineState: machine.state,
      };
    }
    if (result.app.health_status === "idle") {
      // wake: start it for the gate; Fly's proxy idles it again once no request comes in. A start that
      // races the machine's last stop (412) is tried again on the driver's next pass.
      try {
        await deps.fly.machines.start(appName, machineId);
      } catch (error) {
        if (error instanceof FlyPreconditionFailedError) {
          return { outcome: "progressing", error: error.message };
        }
        throw error;
      }
      deps.log.info("rollout target idle: woken for the health gate", { user_id: target.user_id });
    }
    return await lookAtGate(deps, { appName, machineId, gateStartedAt: applied }, { lookMs, deadline });
  };
}

/** The rollout driver's dependencies, applying through the controller. */
export function rolloutDeps(deps: EngineDeps, rollouts: RolloutsRepository): RolloutDeps {
  return { config: deps.config, log: deps.log, rollouts, applyTarget: controllerApply(deps) };
}

/** What one sweep's rollout phase did: rollouts driven, targets by outcome, rollouts halted or ended. */
export interface RolloutsReport {
  driven: number;
  healthy: number;
  failed: number;
  progressing: number;
  /** Targets looked at in their open gate. */
  gate: number;
  skipped: number;
  halted: number;
  completed: number;
  /** How long the sweep's rollout phase took. */
  ms: number;
}

/** The report of a rollout phase that did nothing. */
export function emptyRolloutsReport(): RolloutsReport {
  return {
    driven: 0,
    healthy: 0,
    failed: 0,
    progressing: 0,
    gate: 0,
    skipped: 0,
    halted: 0,
    completed: 0,
    ms: 0,
  };
}

/** Adds one driver step's progress to `report`. */
export function countRollouts(report: RolloutsReport, progress: RolloutProgress[]): void {
  for (const step of progress) {
    report.driven++;
    report.healthy += step.applied.healthy;
    report.failed += step.applied.failed;
    report.progressing += step.applied.progressing;
    report.gate += step.applied.gate;
    report.skipped += step.applied.skipped;
    if (step.halted) report.halted++;
    if (step.state === "completed" || step.state === "rolled_back") report.completed++;
  }
}
