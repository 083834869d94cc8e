/**
 * The detail check of the health sweep: a per-app detail check (`GET /apps/{app}/machines`, with health-check
 * statuses and full configs) of the apps the fleet listing flagged, the unhealthy ones and a rotating slice of the
 * rest. Each app is judged by {@link observe}; its health and spec drift are recorded in one batch per chunk,
 * and an app that needs repair is reconciled through the controller while the sweep still holds its lease.
 *
 * An app whose scoped credential needs re-minting (see `credential_step.ts`) is made due, so the due-work
 * phase mints it and the machine update that follows applies it.
 *
 * Every machine it looks at goes into the caller's `looks` (with when the look was sent): the sweep's rollout
 * phase judges an open health gate from it instead of looking at the same machine again.
 *
 * One app's failure (Fly or database) is counted as `errored` and logged; the others go on.
 *
 * @module
 */
import type { DesiredSpec, Observation as RowObservation, UserFlyApp } from "../db/user_fly_apps.ts";
import type { IdleAction } from "../vocabulary.ts";
import { FlyNotFoundError } from "../fly/mod.ts";
import { appSecretsDigest, appSecretValues } from "../engine/app_secrets.ts";
import { mapBounded } from "../bounded.ts";
import type { EngineDeps } from "../engine/context.ts";
import { REPAIR_REASON_PREFIX, runClaimed } from "../controller/controller.ts";
import { credentialDue } from "../engine/credential_step.ts";
import { machineTarget } from "../engine/machine_target.ts";
import { desiredMachineConfig, machineIdentity } from "../engine/machine_spec.ts";
import {
  type DesiredLook,
  driftChangedEvent,
  healthChangedEvent,
  type Observation,
  observe,
} from "../engine/observe.ts";
import { planVolume } from "../engine/volume_step.ts";
import type { MachineLook } from "../rollout/driver.ts";

/** What the detail check did, for the sweep report. */
export interface DetailReport {
  checked: number;
  healthy: number;
  unhealthy: number;
  starting: number;
  unknown: number;
  idle: number;
  drifted: number;
  repaired: number;
  repair_failed: number;
  errored: number;
}

/** An empty {@link DetailReport}. */
export function emptyDetailReport(): DetailReport {
  return {
    checked: 0,
    healthy: 0,
    unhealthy: 0,
    starting: 0,
    unknown: 0,
    idle: 0,
    drifted: 0,
    repaired: 0,
    repair_failed: 0,
    errored: 0,
  };
}

/** Inputs of {@link checkApps}. */
export interface DetailOptions {
  owner: string;
  /** Rows to check, most urgent first. */
  ids: string[];
  /** No new chunk is taken after this epoch ms. */
  stopAt: number;
  /** Deadline of the repairs' reconciles (they report `progressing` when they reach it). */
  repairDeadline: number;
  report: DetailReport;
  /** Filled with every machine looked at, by id (see the module doc). */
  looks?: Map<string, MachineLook>;
}

/** What the row's app should look like for `spec`, or undefined when the user should have no app. */
function desiredLook(
  deps: EngineDeps,
  spec: DesiredSpec | undefined,
  row: UserFlyApp,
  secretsDigest: string | null,
): DesiredLook | undefined {
  if (!spec || spec.desired_state !== "present") return undefined;
  const volume = planVolume(spec.plan);
  // The plan, or what the user's rollout batch already gave them: that is not drift.
  const target = machineTarget({
    plan: spec.plan,
    defaultImage: deps.config.fly.appImage,
    rollout: spec.rollout,
    override: spec.override,
  });
  const config = desiredMachineConfig({
    userId: spec.user_id,
    plan: target,
    image: target.image!,
    createToken: "",
    volume: volume && row.volume_id ? { volumeId: row.volume_id, path: volume.mountPath } : null,
    held: row.held_at !== null,
  });
  return { config, region: target.region, secretsDigest };
}

/**
 * Looks at one app on Fly and judges it (a stopped machine is `idle` when the plan's `idleAction` allows it);
 * the machines seen go into `looks`.
 */
async function inspect(
  deps: EngineDeps,
  row: UserFlyApp,
  judge: { desired: DesiredLook | undefined; idleAction: IdleAction | undefined },
  looks: Map<string, MachineLook> | undefined,
): Promise<Observation> {
  let machines = null;
  const at = Date.now();
  try {
    machines = await deps.fly.machines.list(row.fly_app_name!, { metadata: machineIdentity(row.user_id) });
  } catch (error) {
    if (!(error instanceof FlyNotFoundError)) throw error;
  }
  for (const machine of machines ?? []) looks?.set(machine.id, { machine, at });
  return observe({ machines, row, ...judge });
}

/**
 * The row's patch and events for an observation; `makeDue` schedules a reconcile now (a credential to
 * re-mint) unless one is scheduled already.
 */
function observationRecord(
  row: UserFlyApp,
  observation: Observation,
  options: { release: boolean; makeDue: boolean },
): RowObservation {
  const now = new Date().toISOString();
  const events = [healthChangedEvent(row, observation), driftChangedEvent(row, observation)]
    .filter((event) => event !== null);
  return {
    id: row.id,
    patch: {
      health_status: observation.health,
      last_health_check_at: now,
      last_machine_state: observation.machine?.state ?? "missing",
      last_observed_at: now,
      drift: observation.drift,
      ...(options.makeDue && row.next_attempt_at === null ? { next_attempt_at: now } : {}),
    },
    events,
    release: options.release,
  };
}

/** Checks one chunk of leased rows: inspect, record, repair. */
async function checkChunk(
  deps: EngineDeps,
  rows: UserFlyApp[],
  options: DetailOptions & { secretsDigest: string | null },
): Promise<void> {
  const { concurrency } = deps.config.sweep;
  const { report, owner } = options;
  const specs = await deps.repo.desired.desiredSpecs(rows.map((row) => row.user_id));
  const looked = await mapBounded(rows, concurrency, async (row) => {
    try {
      const spec = specs.get(row.user_id);
      const desired = desiredLook(deps, spec, row, options.secretsDigest);
      const remint = spec?.desired_state === "present" && await credentialDue(deps.config, row);
      const idleAction = spec?.desired_state === "present" ? spec.plan.idle_action : undefined;
      return { row, observation: await inspect(deps, row, { desired, idleAction }, options.looks), remint };
    } catch (error) {
      report.errored++;
      deps.log.warn("detail check failed", { user_id: row.user_id, app_name: row.fly_app_name, error });
      await deps.repo.leases.release(row.id, owner).catch(() => {});
      return null;
    }
  });
  const seen = looked.filter((item) => item !== null);
  const { kept } = await deps.repo.records.recordObservations(
    owner,
    seen.map(({ row, observation, remint }) =>
      observationRecord(row, observation, { release: observation.repairReason === null, makeDue: remint })
    ),
  );
  for (const { observation } of seen) {
    report.checked++;
    report[observation.health]++;
    if (Object.keys(observation.drift).length > 0) report.drifted++;
  }
  const byId = new Map(kept.map((row) => [row.id, row]));
  const repairs = seen.filter(({ observation }) => observation.repairReason !== null);
  await mapBounded(repairs, concurrency, async ({ row, observation }) => {
    const app = byId.get(row.id);
    if (!app) return;
    deps.log.warn("repairing app", { user_id: row.user_id, reason: observation.repairReason });
    try {
      const result = await runClaimed(deps, app, {
        owner,
        deadline: options.repairDeadline,
        reason: `${REPAIR_REASON_PREFIX}${observation.repairReason}`,
      });
      if (result.outcome === "converged") report.repaired++;
      else report.repair_failed++;
    } catch (error) {
      report.errored++;
      deps.log.warn("repair failed", { user_id: row.user_id, error });
    }
  });
}

/** Checks the given apps in chunks until done or out of time; repairs what is broken. */
export async function checkApps(deps: EngineDeps, options: DetailOptions): Promise<void> {
  const secretValues = appSecretValues(deps.config.appSecrets);
  const secretsDigest = Object.keys(secretValues).length > 0 ? await appSecretsDigest(secretValues) : null;
  const chunkSize = deps.config.sweep.concurrency * 8;
  for (let start = 0; start < options.ids.length && Date.now() < options.stopAt; start += chunkSize) {
    let rows: UserFlyApp[] = [];
    try {
      rows = await deps.repo.leases.claimIds(
        options.ids.slice(start, start + chunkSize),
        options.owner,
        deps.config.reconcile.leaseSeconds,
      );
      await checkChunk(deps, rows, { ...options, secretsDigest });
    } catch (error) {
      // A database error on a chunk: count it, free its rows, go on with the next chunk.
      options.report.errored += Math.max(1, rows.length);
      deps.log.warn("detail check of a chunk failed", { rows: rows.length, error });
      await Promise.all(rows.map((row) => deps.repo.leases.release(row.id, options.owner).catch(() => {})));
    }
  }
}
