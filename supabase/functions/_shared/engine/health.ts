/**
 * Health, judged in one place: the machine-state classes, the "parked" rule (an ops hold or a downgrade's
 * grace keeps a machine stopped on purpose), a machine's steady-state health, and the rollout's stricter
 * health gate. {@link observe} (controller, sweep, status API), the fleet listing's flags and the rollout
 * driver's gate all read machines through these primitives, so they cannot disagree.
 *
 * - `healthy`: the machine is started and no reported check is critical (checks not reported count as
 *   passing in steady state: the state is then the best signal);
 * - `starting`: the machine is on its way up (created, starting, updating, replacing, restarting);
 * - `unhealthy`: a machine down or going down, or a critical check (and, in {@link observe}, no app or no
 *   machine at all);
 * - `unknown`: nothing to judge by (the stopped machine of a parked app, a state this code does not know);
 * - `idle`: stopped or suspended while the plan lets Fly's proxy idle it (`idle_action` stop or suspend):
 *   the next request wakes it, so it is neither repaired nor alerted. On a plan with `idle_action: off` the
 *   same machine is `unhealthy` and repaired.
 *
 * The gate is stricter: every check the machine's config asks for must be reported and passing.
 *
 * @module
 */
import type { Machine } from "../fly/mod.ts";
import type { UserFlyApp } from "../db/user_fly_apps.ts";
import type { Health, IdleAction } from "../vocabulary.ts";

/** States of a machine that is gone or going. */
export const GONE_STATES: ReadonlySet<string> = new Set(["destroyed", "destroying", "replaced"]);
/** States from which a machine comes up by itself. */
export const BOOTING_STATES: ReadonlySet<string> = new Set([
  "created",
  "starting",
  "replacing",
  "updating",
  "restarting",
]);
/** States of a machine that is down and needs a start. */
export const DOWN_STATES: ReadonlySet<string> = new Set(["stopped", "suspended", "failed"]);
/** States of a machine on its way down. */
const GOING_DOWN_STATES: ReadonlySet<string> = new Set(["stopping", "suspending"]);
/** States a parked machine is meant to be in. */
const PARKED_STATES: ReadonlySet<string> = new Set(["stopped", "suspended"]);

/** Why a user's machine is meant to stay stopped: `held` (ops), `suspended` (a downgrade's grace), or null. */
export function parkedReason(row: Pick<UserFlyApp, "held_at" | "status">): "held" | "suspended" | null {
  return row.held_at ? "held" : row.status === "suspended" ? "suspended" : null;
}

/** Whether a parked row's machine is stopped as it should be (nothing to judge, nothing to repair). */
export function parkedAndDown(row: Pick<UserFlyApp, "held_at" | "status">, state: string): boolean {
  return parkedReason(row) !== null && PARKED_STATES.has(state);
}

/** Whether the machine rests idle as its plan allows: stopped or suspended, with `idle_action` not `off`. */
export function idleAsAllowed(state: string, idleAction: IdleAction | undefined): boolean {
  return (idleAction ?? "off") !== "off" && PARKED_STATES.has(state);
}

/** Whether a row judged `idle` still is: its machine is still stopped or suspended (no judgement needed). */
export function stillIdle(row: Pick<UserFlyApp, "health_status">, state: string): boolean {
  return row.health_status === "idle" && PARKED_STATES.has(state);
}

/** Names of the machine's checks Fly reports critical. */
export function failingChecks(machine: Pick<Machine, "checks">): string[] {
  return (machine.checks ?? []).filter((check) => check.status === "critical").map((check) => check.name);
}

/** A machine's steady-state health and, when it is down or going down, the repair it calls for. */
export interface MachineHealth {
  health: Health;
  /** `machine_<state>` for a machine that is down (or running while parked), else null. */
  repairReason: string | null;
}

/** Judges one machine of a row in steady state (see the module doc); `idleAction` is the plan's. */
export function machineHealth(
  machine: Pick<Machine, "state" | "checks">,
  parked: "held" | "suspended" | null,
  idleAction?: IdleAction,
): MachineHealth {
  if (parked) {
    if (PARKED_STATES.has(machine.state)) return { health: "unknown", repairReason: null };
    const health = machine.state === "started" ? "healthy" : "unknown";
    return { health, repairReason: `${parked}_machine_running` };
  }
  if (machine.state === "started") {
    return { health: failingChecks(machine).length === 0 ? "healthy" : "unhealthy", repairReason: null };
  }
  if (BOOTING_STATES.has(machine.state)) return { health: "starting", repairReason: null };
  if (idleAsAllowed(machine.state, idleAction)) return { health: "idle", repairReason: null };
  if (DOWN_STATES.has(machine.state) || GOING_DOWN_STATES.has(machine.state)) {
    return { health: "unhealthy", repairReason: `machine_${machine.state}` };
  }
  return { health: "unknown", repairReason: null };
}

/**
 * The rollout's health gate on one machine: `pass` once it is started with every check its config asks for
 * reported and passing, `fail` when it failed or is gone, `wait` otherwise.
 */
export function healthGateVerdict(
  machine: Pick<Machine, "state" | "checks" | "config">,
): "pass" | "fail" | "wait" {
  if (machine.state === "failed" || GONE_STATES.has(machine.state)) return "fail";
  const checks = machine.checks ?? [];
  const expected = Object.keys(machine.config.checks ?? {}).length;
  const allPassing = checks.length >= expected && checks.every((check) => check.status === "passing");
  return machine.state === "started" && allPassing ? "pass" : "wait";
}
