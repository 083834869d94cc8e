/**
 * The rollout driver's {@link ApplyTarget}, done by the controller: the user's row is reconciled (reason
 * `rollout`); the desired spec then carries the rollout's spec for the user (their target is in flight), so
 * `ensureMachine` sends the full-config update with `current_version`. Then the health gate: the machine
 * must be `started` with every check passing within the rollout's `health_timeout_s`.
 *
 * A user the rollout no longer concerns (downgraded mid-rollout) is reported healthy without any change. A
 * held user's machine gets the rollout's config and stays stopped (the controller keeps held machines
 * stopped): it counts as applied without the health gate, which a stopped machine could never pass, and
 * starts on the new image when released. (Canaries are drawn from running users, so the gate that pins the
 * digest is a real one.) An idle machine (stopped or suspended by Fly's proxy as its plan allows: the
 * reconcile leaves it down) is applied the same way, `applied (idle)`; with the rollout's `wake` it is
 * started and must pass the gate, and the proxy idles it again afterwards.
 *
 * @module
 */
import type { EngineDeps } from "../engine/context.ts";
import { reconcileUser } from "../controller/controller.ts";
import type { RolloutsRepository } from "../db/fly_rollouts.ts";
import type { ApplyTarget, RolloutDeps, RolloutProgress, TargetOutcome } from "./driver.ts";
import { BACKOFF, pollUntil } from "../backoff.ts";
import { healthGateVerdict } from "../engine/health.ts";
import { FlyPreconditionFailedError } from "../fly/mod.ts";

/** Reason recorded on the reconciles a rollout makes. */
export const ROLLOUT_RECONCILE_REASON = "rollout";
/** Looks at the machine until it passes the gate, fails, or the gate or the deadline ends. */
async function healthGate(
  deps: EngineDeps,
  target: { appName: string; machineId: string },
  gate: { healthTimeoutMs: number; deadline: number },
): Promise<TargetOutcome> {
  const gateEnds = Date.now() + gate.healthTimeoutMs;
  const look = async (): Promise<TargetOutcome> => {
    const machine = await deps.fly.machines.get(target.appName, target.machineId);
    const imageDigest = machine.image_ref?.digest ?? null;
    switch (healthGateVerdict(machine)) {
      case "pass":
        return { outcome: "healthy", imageDigest };
      case "fail":
        return { outcome: "failed", imageDigest, error: `machine ${machine.id} is ${machine.state}` };
    }
    if (Date.now() < gateEnds) return { outcome: "progressing", imageDigest };
    const error = `health checks not passing within ${Math.round(gate.healthTimeoutMs / 1000)} s`;
    return { outcome: "failed", imageDigest, error };
  };
  // Unsettled when this run's time ends before the gate is decided: the next run looks again.
  const { value } = await pollUntil({
    policy: BACKOFF.healthGate,
    attempt: look,
    settled: (outcome) => outcome.outcome !== "progressing",
    deadline: gate.deadline,
  });
  return value;
}

/**
 * The driver's apply through the controller. `spec` is not passed on: the controller reads the same spec
 * from the database (`private.fly_rollout_spec_for_user`, in the desired spec), one source for both.
 */
export function controllerApply(deps: EngineDeps): ApplyTarget {
  return async (userId, _spec, { healthTimeoutMs, deadline, wake }) => {
    const desired = await deps.repo.desired.desiredSpec(userId);
    if (desired.desired_state !== "present") return { outcome: "healthy" };
    const result = await reconcileUser(deps, {
      userId,
      owner: `rollout-${crypto.randomUUID()}`,
      deadline,
      reason: ROLLOUT_RECONCILE_REASON,
    });
    switch (result.outcome) {
      case "no_row":
        return { outcome: "healthy" };
      case "busy":
      case "lease_lost":
        return { outcome: "progressing" };
      case "failed":
      case "terminal":
        return { outcome: "failed", error: result.error ?? result.outcome };
      case "progressing":
        return { outcome: "progressing", error: result.error ?? null };
    }
    if ("desiredState" in result && result.desiredState === "absent") return { outcome: "healthy" };
    const { fly_app_name: appName, machine_id: machineId } = result.app;
    if (!appName || !machineId) return { outcome: "failed", error: "the reconcile left no machine" };
    const idle = result.app.health_status === "idle";
    if (result.app.held_at || (idle && !wake)) {
      const machine = await deps.fly.machines.get(appName, machineId);
      deps.log.info(
        `rollout target ${
          idle ? "applied (idle)" : "held"
        }: config applied, machine left down, no health gate`,
        { user_id: userId, state: machine.state },
      );
      return { outcome: "healthy", imageDigest: machine.image_ref?.digest ?? null };
    }
    if (idle) {
      // --wake: start it for the gate; Fly's proxy idles it again once no request comes in. A start that
      // races the machine's last stop (412) is tried again on the driver's next pass.
      try {
        await deps.fly.machines.start(appName, machineId);
      } catch (error) {
        if (error instanceof FlyPreconditionFailedError) {
          return { outcome: "progressing", error: error.message };
        }
        throw error;
      }
      deps.log.info("rollout target idle: woken for the health gate", { user_id: userId });
    }
    return await healthGate(deps, { appName, machineId }, { healthTimeoutMs, deadline });
  };
}

/** The rollout driver's dependencies, applying through the controller. */
export function rolloutDeps(deps: EngineDeps, rollouts: RolloutsRepository): RolloutDeps {
  return { config: deps.config, log: deps.log, rollouts, applyTarget: controllerApply(deps) };
}

/** What one sweep's rollout phase did: rollouts driven, targets applied by outcome, rollouts halted. */
export interface RolloutsReport {
  driven: number;
  healthy: number;
  failed: number;
  progressing: number;
  halted: number;
  completed: number;
}

/** The report of a rollout phase that did nothing. */
export function emptyRolloutsReport(): RolloutsReport {
  return { driven: 0, healthy: 0, failed: 0, progressing: 0, halted: 0, completed: 0 };
}

/** Adds one driver step's progress to `report`. */
export function countRollouts(report: RolloutsReport, progress: RolloutProgress[]): void {
  for (const step of progress) {
    report.driven++;
    report.healthy += step.applied.healthy;
    report.failed += step.applied.failed;
    report.progressing += step.applied.progressing;
    if (step.halted) report.halted++;
    if (step.state === "completed" || step.state === "rolled_back") report.completed++;
  }
}
