/**
 * The fleet listing of the health sweep: the state of every machine of ours, from Fly's org-wide machine listing
 * (`GET /v1/orgs/{org}/machines`, paged), written to the rows in one set-based statement per page.
 *
 * Most runs list only what changed since the last high-water mark (minus an overlap, since `updated_at` is
 * not a transaction time), including destroyed machines; every `fullListingEverySeconds` a full listing also
 * finds rows whose app or machine vanished without a trace. The apps whose state changed, is not what it
 * should be, or whose health is not `healthy` are flagged for a detail check (a machine judged `idle` that
 * stays down is not). Deleted rows are not observed: a destroyed machine in the listing says nothing about
 * them, a live one is a state contradiction. After a
 * complete listing, every machine's state feeds runtime accounting (`user_fly_app_usage_daily`).
 *
 * @module
 */
import type { FleetRow, FleetState } from "../db/user_fly_apps.ts";
import type { FlyClient } from "../fly/mod.ts";
import type { EngineDeps } from "../engine/context.ts";
import { isManagedAppName } from "../engine/app_name.ts";
import { MANAGED_BY } from "../engine/machine_spec.ts";
import { GONE_STATES, parkedAndDown, stillIdle } from "../engine/health.ts";

/** One machine as the org listing reports it (summary mode). */
export interface ListedMachine {
  id: string;
  appName: string;
  state: string;
  updatedAt: string | null;
  /** `config.metadata.managed_by` / `user_id` when the listing carries them. */
  managedBy?: string;
  userId?: string;
}

/** One page of the org listing. */
export interface ListedPage {
  machines: ListedMachine[];
  /** Regions whose hosts did not answer: the page is partial there. */
  errorRegions: string[];
}

/** Lists the org's machines page by page. */
export type FleetLister = (options: { updatedAfter?: string; includeDeleted: boolean }) => AsyncIterable<
  ListedPage
>;

/**
 * The org listing through the Fly client, in summary mode (no configs: machines are matched to rows by app
 * name), following `next_cursor` until it is absent (pages may be short or empty while more remain).
 */
export function flyFleetLister(fly: FlyClient, orgSlug: string): FleetLister {
  return async function* ({ updatedAfter, includeDeleted }) {
    let cursor: string | undefined;
    do {
      const page = await fly.orgMachines.listPage(orgSlug, {
        summary: true,
        includeDeleted,
        updatedAfter,
        cursor,
      });
      yield {
        machines: page.machines.map((m) => ({
          id: m.id,
          appName: m.app_name,
          state: m.state,
          updatedAt: m.updated_at ?? null,
          managedBy: m.config?.metadata?.managed_by,
          userId: m.config?.metadata?.user_id,
        })),
        errorRegions: page.errorRegions,
      };
      cursor = page.nextCursor;
    } while (cursor);
  };
}

/** How far before the high-water mark an incremental listing starts again, in ms. */
const HIGH_WATER_OVERLAP_MS = 5 * 60_000;

/** What the fleet listing did, for the sweep report. */
export interface FleetReport {
  /** True for a full listing (which can see vanished machines). */
  full: boolean;
  pages: number;
  machines: number;
  /** Apps of ours seen, and rows written. */
  apps: number;
  rows: number;
  /** Rows flagged for a detail check. */
  flagged: number;
  /** Newest `updated_at` seen: where the next incremental listing starts (minus the overlap). */
  high_water: string | null;
  error_regions: string[];
  /** Machines whose state fed runtime accounting (after a complete listing). */
  runtime_observations?: number;
  error?: string;
}

/** Reduces one page's machines to one state per app of ours. */
export function appStates(
  machines: readonly ListedMachine[],
  isOurs: (machine: ListedMachine) => boolean,
  observedAt: string,
): FleetState[] {
  const byApp = new Map<string, ListedMachine[]>();
  for (const machine of machines) {
    if (!isOurs(machine)) continue;
    const list = byApp.get(machine.appName);
    if (list) list.push(machine);
    else byApp.set(machine.appName, [machine]);
  }
  return [...byApp].map(([appName, list]) => {
    const live = list.filter((m) => !GONE_STATES.has(m.state));
    const best = live.find((m) => m.state === "started") ?? live[0];
    return {
      app_name: appName,
      state: best?.state ?? "missing",
      machine_id: best?.id ?? null,
      live_machines: live.length,
      observed_at: observedAt,
    };
  });
}

/** True when the fleet listing's view of a row calls for a detail check. */
export function needsDetail(row: FleetRow): boolean {
  // Held by ops or suspended in a downgrade's grace period, or judged idle (its plan lets the proxy stop it)
  // and still down: a stopped machine is what it should be.
  const parked = parkedAndDown(row, row.state) || stillIdle(row, row.state);
  if (row.live_machines !== 1) return true;
  if (row.observed_machine_id !== row.machine_id) return true;
  if (row.previous_state !== null && row.state !== row.previous_state) return true;
  if (row.state !== "started" && !parked) return true;
  return row.health_status !== "healthy" && !parked;
}

/** Inputs of {@link observeFleet}. */
export interface FleetOptions {
  lister: FleetLister;
  /** When the listing starts (a full listing's vanished rows are those not seen since). */
  startedAt: Date;
  /** Stop paging after this epoch ms (the rest waits for the next run). */
  deadline: number;
}

/**
 * Runs the fleet listing; returns its report, the ids of the rows flagged for a detail check, and those of
 * deleted rows for which it saw a live machine of ours (a state contradiction).
 */
export async function observeFleet(
  deps: EngineDeps,
  options: FleetOptions,
): Promise<{ report: FleetReport; flagged: Set<string>; contradicted: Set<string> }> {
  const cursor = await deps.repo.sweeps.fleetCursor();
  const lastFull = cursor.lastFullAt ? Date.parse(cursor.lastFullAt) : 0;
  const full = cursor.highWater === null ||
    options.startedAt.getTime() - lastFull >= deps.config.sweep.fullListingEverySeconds * 1000;
  const updatedAfter = full
    ? undefined
    : new Date(Date.parse(cursor.highWater!) - HIGH_WATER_OVERLAP_MS).toISOString();
  const report: FleetReport = {
    full,
    pages: 0,
    machines: 0,
    apps: 0,
    rows: 0,
    flagged: 0,
    high_water: cursor.highWater,
    error_regions: [],
  };
  const flagged = new Set<string>();
  const contradicted = new Set<string>();
  const naming = deps.config.appNaming;
  const isOurs = (m: ListedMachine) =>
    m.managedBy !== undefined ? m.managedBy === MANAGED_BY : isManagedAppName(m.appName, naming);
  const observedAt = options.startedAt.toISOString();
  let complete = true;
  for await (const page of options.lister({ updatedAfter, includeDeleted: !full })) {
    report.pages++;
    report.machines += page.machines.length;
    for (const region of page.errorRegions) {
      if (!report.error_regions.includes(region)) report.error_regions.push(region);
    }
    for (const machine of page.machines) {
      if (machine.updatedAt && (!report.high_water || machine.updatedAt > report.high_water)) {
        report.high_water = machine.updatedAt;
      }
    }
    const states = appStates(page.machines, isOurs, observedAt);
    report.apps += states.length;
    const rows = await deps.repo.records.recordFleetStates(states);
    report.rows += rows.length;
    for (const row of rows) {
      // A deleted row is not observed: only a live machine of ours for it matters (a contradiction).
      if (row.status === "deleted") {
        if (row.live_machines > 0) contradicted.add(row.id);
      } else if (needsDetail(row)) flagged.add(row.id);
    }
    if (Date.now() >= options.deadline) {
      complete = false;
      break;
    }
  }
  // A listing cut short may have skipped older changes: the next run starts from the old mark again.
  if (!complete) report.high_water = cursor.highWater;
  // After a complete listing every row's last seen state is current: it counts toward runtime hours.
  if (complete && report.error_regions.length === 0) {
    report.runtime_observations = await deps.repo.records.recordRuntime(options.startedAt);
  }
  // Only a complete full listing that every region answered can tell that a machine is gone.
  if (full && complete && report.error_regions.length === 0) {
    for (const id of await deps.repo.sweeps.unseenSince(options.startedAt, 10_000)) flagged.add(id);
  } else if (full) {
    report.full = false;
  }
  report.flagged = flagged.size;
  return { report, flagged, contradicted };
}
