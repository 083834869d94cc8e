/**
 * Health, repair need and spec drift of one user app, from what Fly reports about its machines: the one
 * function the controller, the sweep and the status API share, so they can never disagree. The health
 * values and the machine judgement are `health.ts`'s; this adds the app-level cases (no app, no machine,
 * duplicates; a machine kept with a host recovery's dead volume is none of them) and the spec drift.
 *
 * @module
 */
import type { AppEvent, UserFlyApp } from "../db/user_fly_apps.ts";
import type { Machine, MachineConfig } from "../fly/mod.ts";
import { configDrift } from "./machine_spec.ts";
import type { Health, IdleAction } from "../vocabulary.ts";
import { failingChecks, GONE_STATES, machineHealth, parkedReason } from "./health.ts";

/** What the app should look like, for drift: the full desired machine config and region. */
export interface DesiredLook {
  config: MachineConfig;
  region: string;
  /** Digest of the secrets the configuration gives the app (compared with the row's). */
  secretsDigest: string | null;
}

/** Input of {@link observe}. */
export interface ObserveInput {
  /** The app's machines of this user (any state); null when the app itself is missing. */
  machines: Machine[] | null;
  row:
    & Pick<UserFlyApp, "machine_id" | "held_at" | "status" | "secrets_digest" | "image_digest">
    & Partial<Pick<UserFlyApp, "volume_id">>;
  /** When given, spec drift is computed against it. */
  desired?: DesiredLook;
  /** The plan's `idle_action` (absent: `off`): a stopped or suspended machine is then `idle`, not down. */
  idleAction?: IdleAction;
}

/** One drifted field: what the spec says and what Fly runs. */
export interface DriftEntry {
  desired: unknown;
  observed: unknown;
}

/** What {@link observe} concluded. */
export interface Observation {
  health: Health;
  /** Why, for the `health_changed` event. */
  details: Record<string, unknown>;
  /** Why the app needs a reconcile now (null: it does not). */
  repairReason: string | null;
  /** Spec drift by field (empty: none, or not computed). */
  drift: Record<string, DriftEntry>;
  /** The machine the judgement is about: the recorded one if live, else the best live one. */
  machine?: Machine;
  /** Live machines of ours. */
  live: Machine[];
}

/** The machine to keep among live ones: a started one first, then the most recently updated. */
export function preferredMachine(live: Machine[]): Machine | undefined {
  return [...live].sort((a, b) => {
    const started = Number(b.state === "started") - Number(a.state === "started");
    return started !== 0 ? started : String(b.updated_at ?? "").localeCompare(String(a.updated_at ?? ""));
  })[0];
}

/** The recorded machine when it is live, else the preferred one. */
function keeperOf(live: Machine[], recordedId: string | null): Machine | undefined {
  return live.find((m) => m.id === recordedId) ?? preferredMachine(live);
}

/** Spec drift of `machine` against `desired`, field by field. */
function driftOf(
  machine: Machine,
  row: ObserveInput["row"],
  desired: DesiredLook,
): Record<string, DriftEntry> {
  const drift: Record<string, DriftEntry> = {};
  const fields = configDrift(machine.config, desired.config, { observedDigest: machine.image_ref?.digest });
  const pick = (config: MachineConfig, field: string) => (config as Record<string, unknown>)[field];
  for (const field of fields) {
    drift[field] = { desired: pick(desired.config, field), observed: pick(machine.config, field) };
  }
  if (machine.region !== desired.region) drift.region = { desired: desired.region, observed: machine.region };
  const digest = machine.image_ref?.digest;
  if (row.image_digest && digest && digest !== row.image_digest && !drift.image) {
    drift.image_digest = { desired: row.image_digest, observed: digest };
  }
  if (desired.secretsDigest !== null && desired.secretsDigest !== row.secrets_digest) {
    // Digests only: never a value.
    drift.secrets = { desired: desired.secretsDigest, observed: row.secrets_digest };
  }
  return drift;
}

/**
 * True for a machine that mounts a volume other than the user's recorded one: the old machine a host
 * recovery keeps on the dead host's volume for a revert (volume_step.ts), neither the user's machine nor a
 * duplicate.
 */
function keptWithOtherVolume(machine: Machine, row: ObserveInput["row"]): boolean {
  const mounted = (machine.config.mounts ?? []).map((mount) => mount.volume);
  return Boolean(row.volume_id) && mounted.length > 0 && !mounted.includes(row.volume_id!);
}

/** Judges one app from its machines; see the module doc for the health values. */
export function observe(input: ObserveInput): Observation {
  const { row } = input;
  if (input.machines === null) {
    return {
      health: "unhealthy",
      details: { reason: "app_missing" },
      repairReason: "app_missing",
      drift: {},
      live: [],
    };
  }
  const live = input.machines.filter((m) => !GONE_STATES.has(m.state) && !keptWithOtherVolume(m, row));
  const machine = keeperOf(live, row.machine_id);
  if (!machine) {
    return {
      health: "unhealthy",
      details: { reason: "no_machine" },
      repairReason: "machine_missing",
      drift: {},
      live,
    };
  }
  const drift = input.desired ? driftOf(machine, row, input.desired) : {};
  const details: Record<string, unknown> = { machine_id: machine.id, state: machine.state };
  const result = (health: Health, repairReason: string | null): Observation => ({
    health,
    details,
    repairReason: repairReason ?? (live.length > 1 ? "duplicate_machines" : null),
    drift,
    machine,
    live,
  });
  // Held by ops, or suspended in a downgrade's grace period: the machine is meant to stay stopped.
  const parked = parkedReason(row);
  if (parked) details[parked] = true;
  const judged = machineHealth(machine, parked, input.idleAction);
  const failing = parked ? [] : failingChecks(machine);
  if (machine.state === "started" && failing.length > 0) details.failing_checks = failing;
  return result(judged.health, judged.repairReason);
}

/** The `health_changed` event for an observation, or null when the row already records that health. */
export function healthChangedEvent(
  row: Pick<UserFlyApp, "health_status">,
  observation: Pick<Observation, "health" | "details">,
): AppEvent | null {
  if (row.health_status === observation.health) return null;
  return {
    event_type: "health_changed",
    status: observation.health === "healthy" ? "ok" : observation.health === "idle" ? "info" : "warning",
    metadata: { from: row.health_status, to: observation.health, details: observation.details },
  };
}

/** The `drift_detected` event when the drifted fields differ from what the row records, else null. */
export function driftChangedEvent(
  row: Pick<UserFlyApp, "drift">,
  observation: Pick<Observation, "drift">,
): AppEvent | null {
  const before = Object.keys(row.drift ?? {}).sort();
  const now = Object.keys(observation.drift).sort();
  if (JSON.stringify(before) === JSON.stringify(now)) return null;
  return {
    event_type: "drift_detected",
    status: now.length > 0 ? "warning" : "ok",
    metadata: { kind: "spec", fields: now, resolved: before.filter((field) => !now.includes(field)) },
  };
}
