/**
 * Health of a user app from what Fly reports: the machine's state and its check results.
 *
 * @module
 */
import type { Machine } from "../fly/mod.ts";

/** Health values stored in `user_fly_apps.health_status`. */
export type HealthStatus = "healthy" | "unhealthy" | "unknown";

/** What was observed, for the `health_changed` event. */
export interface HealthObservation {
  status: HealthStatus;
  /** Why: machine state and failing checks. */
  details: Record<string, unknown>;
}

/**
 * `healthy` when the machine is started and no check is failing (checks not reported yet count as passing:
 * the machine state is then the best signal); `unhealthy` when it is not started or a check is critical;
 * `unknown` when there is no machine to look at.
 */
export function machineHealth(machine: Machine | undefined): HealthObservation {
  if (!machine) return { status: "unhealthy", details: { reason: "no_machine" } };
  const failing = (machine.checks ?? []).filter((check) => check.status === "critical");
  if (machine.state !== "started") {
    return { status: "unhealthy", details: { machine_id: machine.id, state: machine.state } };
  }
  if (failing.length > 0) {
    return {
      status: "unhealthy",
      details: { machine_id: machine.id, state: machine.state, failing_checks: failing.map((c) => c.name) },
    };
  }
  return { status: "healthy", details: { machine_id: machine.id, state: machine.state } };
}
