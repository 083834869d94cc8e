/**
 * Typed access to the user app rows through the private SQL API of the migrations
 * (`private.claim_*`, `private.record_*`, `private.get_desired_spec`, ...). Every row that comes back is
 * parsed with zod, so a schema drift fails loudly here instead of deep in the engine.
 *
 * @module
 */
import { z } from "zod";
import type postgres from "postgres";
import type { Sql } from "./client.ts";
import { UserRolloutSpecSchema } from "./fly_rollouts.ts";
import { APP_STATUSES, type AppEventType, CPU_KINDS, HEALTH_VALUES } from "../vocabulary.ts";

/** Timestamps arrive as ISO strings inside jsonb. */
const timestamp = z.string().nullable();

/** One `public.user_fly_apps` row (the columns the controller uses; others are tolerated). */
export const UserFlyAppSchema = z.looseObject({
  id: z.string(),
  user_id: z.string(),
  fly_app_name: z.string().nullable(),
  fly_org_slug: z.string().nullable(),
  status: z.string(),
  region: z.string().nullable(),
  docker_image: z.string().nullable(),
  image_digest: z.string().nullable(),
  machine_id: z.string().nullable(),
  health_status: z.string().nullable(),
  last_health_check_at: timestamp,
  retry_count: z.number().int(),
  error_message: z.string().nullable(),
  desired_state: z.enum(["present", "absent"]),
  desired_generation: z.coerce.number().int(),
  observed_generation: z.coerce.number().int(),
  next_attempt_at: timestamp,
  lease_owner: z.string().nullable(),
  lease_expires_at: timestamp,
  lease_released_at: timestamp.optional(),
  lease_released_by: z.string().nullable().optional(),
  secrets_version: z.coerce.number().int().nullable(),
  secrets_digest: z.string().nullable(),
  deployed_at: timestamp,
  deleted_at: timestamp,
  drift: z.record(z.string(), z.unknown()),
  in_sync: z.boolean(),
  last_machine_state: z.string().nullable(),
  last_observed_at: timestamp,
  held_at: timestamp,
  delete_after: timestamp.optional(),
  volume_id: z.string().nullable().optional(),
  credential_expires_at: timestamp.optional(),
  credential_key_id: z.string().nullable().optional(),
});

/** A user app row. */
export type UserFlyApp = z.infer<typeof UserFlyAppSchema>;

/**
 * The columns an outcome or an observation may set, and their types: the ONE whitelist, mirrored by
 * `private.user_fly_app_patch_columns()` (a test asserts both list the same keys). JSON null clears a column.
 */
export const UserFlyAppPatchSchema = z.strictObject({
  status: z.enum(APP_STATUSES),
  fly_app_name: z.string().nullable(),
  fly_org_slug: z.string().nullable(),
  region: z.string().nullable(),
  docker_image: z.string().nullable(),
  cpu_kind: z.string().nullable(),
  cpu_count: z.number().int().nullable(),
  memory_mb: z.number().int().nullable(),
  machine_id: z.string().nullable(),
  image_digest: z.string().nullable(),
  secrets_version: z.number().int().nullable(),
  secrets_digest: z.string().nullable(),
  deployed_at: timestamp,
  deleted_at: timestamp,
  health_status: z.enum(HEALTH_VALUES),
  last_health_check_at: timestamp,
  monthly_cost_estimate_usd: z.number().nullable(),
  error_message: z.string().nullable(),
  retry_count: z.number().int().min(0),
  next_attempt_at: timestamp,
  observed_generation: z.number().int().min(0),
  drift: z.record(z.string(), z.unknown()),
  last_machine_state: z.string().nullable(),
  last_observed_at: timestamp,
  delete_after: timestamp,
  volume_id: z.string().nullable(),
  credential_expires_at: timestamp,
  credential_key_id: z.string().nullable(),
}).partial();

/** Columns an outcome or observation sets (validated by {@link UserFlyAppPatchSchema}). */
export type UserFlyAppPatch = z.infer<typeof UserFlyAppPatchSchema>;

/** The plan of a tier that gets a dedicated app. */
export const PlanSchema = z.looseObject({
  tier: z.string(),
  region: z.string(),
  cpu_kind: z.enum(CPU_KINDS),
  cpus: z.number().int().positive(),
  memory_mb: z.number().int().positive(),
  image: z.string().nullable(),
  public_services: z.boolean(),
  monthly_cost_estimate_usd: z.coerce.number().nullable(),
  /** Persistent volume of the tier's machine (both set or both null; checked by the table). */
  volume_size_gb: z.number().int().positive().nullable().optional(),
  volume_mount_path: z.string().startsWith("/").nullable().optional(),
  /** Grace of a downgrade TO this tier, in seconds (null: the configured default). */
  deprovision_grace_seconds: z.number().int().min(0).nullable().optional(),
});

/** A dedicated-app plan. */
export type Plan = z.infer<typeof PlanSchema>;

/** What a user should have right now, read from the current tier (`private.get_desired_spec`). */
export const DesiredSpecSchema = z.discriminatedUnion("desired_state", [
  z.looseObject({
    user_id: z.string(),
    tier: z.string().nullable(),
    desired_state: z.literal("present"),
    desired_generation: z.number().int().nullable(),
    plan: PlanSchema,
    /** What an active rollout says the user runs now (null or absent: none covers the user). */
    rollout: UserRolloutSpecSchema.nullable().optional(),
  }),
  z.looseObject({
    user_id: z.string(),
    tier: z.string().nullable(),
    desired_state: z.literal("absent"),
    desired_generation: z.number().int().nullable(),
    /** Grace before the app is deleted, from the current tier's plan (null: the configured default). */
    deprovision_grace_seconds: z.number().int().min(0).nullable().optional(),
  }),
]);

/** The desired spec of one user. */
export type DesiredSpec = z.infer<typeof DesiredSpecSchema>;

/** Result of claiming one user's row. */
export type ClaimResult =
  | { status: "claimed"; app: UserFlyApp }
  | { status: "leased"; app: UserFlyApp }
  | { status: "not_found" };

const ClaimResultSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("claimed"), app: UserFlyAppSchema }),
  z.object({ status: z.literal("leased"), app: UserFlyAppSchema }),
  z.object({ status: z.literal("not_found") }).loose(),
]);

/** One audit event to append with an outcome. */
export interface AppEvent {
  event_type: AppEventType;
  status?: "info" | "ok" | "warning" | "error";
  metadata?: Record<string, unknown>;
  error_details?: string;
}

/** One observation of a row: its patch, events, and (for a leased row) whether to release the lease. */
export interface Observation {
  id: string;
  patch: UserFlyAppPatch;
  events?: AppEvent[];
  /** For rows the caller leases: release after writing (default true). */
  release?: boolean;
}

/** One app as the fleet listing saw it. */
export interface FleetState {
  app_name: string;
  /** State of the machine the row should have (or the best one), `missing` when the app has none of ours. */
  state: string;
  machine_id: string | null;
  /** Live machines of ours in the app. */
  live_machines: number;
  observed_at: string;
}

/** A row written by {@link UserFlyAppsRepository.recordFleetStates}, with the state it had before. */
export const FleetRowSchema = z.object({
  id: z.string(),
  user_id: z.string(),
  fly_app_name: z.string(),
  status: z.string(),
  desired_state: z.string(),
  machine_id: z.string().nullable(),
  health_status: z.string().nullable(),
  held_at: z.coerce.string().nullable(),
  previous_state: z.string().nullable(),
  state: z.string(),
  live_machines: z.number().int(),
  observed_machine_id: z.string().nullable(),
});

/** A row of the fleet listing's write, with its previous machine state. */
export type FleetRow = z.infer<typeof FleetRowSchema>;

/** Access to the user app rows for one caller (`owner` names the lease holder). */
export class UserFlyAppsRepository {
  readonly #sql: Sql;

  /** Wraps a postgres.js client connected as the database owner (SUPABASE_DB_URL). */
  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** A jsonb parameter. */
  #json(value: object) {
    return this.#sql.json(value as unknown as postgres.JSONValue);
  }

  /** Leases one user's row for `owner`; `leased` when another reconciler has it. */
  async claimUser(userId: string, owner: string, leaseSeconds: number): Promise<ClaimResult> {
    const [{ result }] = await this.#sql<{ result: unknown }[]>`
      select private.claim_user_fly_app(${userId}::uuid, ${owner}, ${leaseSeconds}) as result`;
    return ClaimResultSchema.parse(result) as ClaimResult;
  }

  /** Leases up to `limit` rows whose next attempt is due (pending, failed and backed off, lease expired). */
  async claimDue(owner: string, limit: number, leaseSeconds: number): Promise<UserFlyApp[]> {
    const rows = await this.#sql<{ app: unknown }[]>`
      select private.claim_due_user_fly_apps(${owner}, ${limit}, ${leaseSeconds}) as app`;
    return rows.map((row) => UserFlyAppSchema.parse(row.app));
  }

  /** Releases a lease held by `owner` (a due row stays due). */
  async release(appId: string, owner: string): Promise<void> {
    await this.#sql`select private.release_user_fly_app(${appId}::uuid, ${owner})`;
  }

  /** What the user should have now, from the current tier and plan. */
  async desiredSpec(userId: string): Promise<DesiredSpec> {
    const [{ spec }] = await this.#sql<{ spec: unknown }[]>`
      select private.get_desired_spec(${userId}::uuid) as spec`;
    return DesiredSpecSchema.parse(spec);
  }

  /** What each of `userIds` should have now, in one query. */
  async desiredSpecs(userIds: string[]): Promise<Map<string, DesiredSpec>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.#sql<{ spec: unknown }[]>`
      select private.get_desired_spec(u) as spec from unnest(${userIds}::uuid[]) u`;
    const specs = rows.map((row) => DesiredSpecSchema.parse(row.spec));
    return new Map(specs.map((spec) => [spec.user_id, spec]));
  }

  /** Monthly cost of `gb` GB of volume storage from the price table (0 when no price is set). */
  async storageMonthlyCostUsd(gb: number): Promise<number> {
    const [{ cost }] = await this.#sql<{ cost: number }[]>`
      select coalesce((select round(p.monthly_usd * ${gb}, 2) from public.fly_prices p
                       where p.item = 'volume_gb'), 0)::float8 as cost`;
    return cost;
  }

  /** Extends `owner`'s lease; false when the lease is no longer ours. */
  async renewLease(appId: string, owner: string, leaseSeconds: number): Promise<boolean> {
    const [{ renewed }] = await this.#sql<{ renewed: boolean }[]>`
      select private.renew_user_fly_app_lease(${appId}::uuid, ${owner}, ${leaseSeconds}) as renewed`;
    return renewed;
  }

  /** Leases those of `ids` nobody else holds (for a closer look by the sweep). */
  async claimIds(ids: string[], owner: string, leaseSeconds: number): Promise<UserFlyApp[]> {
    if (ids.length === 0) return [];
    const rows = await this.#sql<{ app: unknown }[]>`
      select private.claim_user_fly_apps(${ids}::uuid[], ${owner}, ${leaseSeconds}) as app`;
    return rows.map((row) => UserFlyAppSchema.parse(row.app));
  }

  /**
   * Records one attempt's outcome at desired generation `generation` (lease fence, patch, generation fence,
   * events; releases the lease unless `release` is false). Throws SQLSTATE 55000 when the lease is lost.
   */
  async recordOutcome(
    appId: string,
    owner: string,
    outcome: { generation: number; patch: UserFlyAppPatch; events: AppEvent[]; release?: boolean },
  ): Promise<UserFlyApp> {
    const patch = UserFlyAppPatchSchema.parse(outcome.patch);
    const [{ app }] = await this.#sql<{ app: unknown }[]>`
      select private.record_outcome(${appId}::uuid, ${owner}, ${outcome.generation}, ${this.#json(patch)},
        ${this.#json(outcome.events)}, ${outcome.release ?? true}) as app`;
    return UserFlyAppSchema.parse(app);
  }

  /**
   * Writes a batch of observations in one transaction: of rows `owner` leases, or (owner null) of rows nobody
   * leases. Returns the ids written, and the rows whose lease the caller keeps (`release: false`).
   */
  async recordObservations(
    owner: string | null,
    observations: Observation[],
  ): Promise<{ written: string[]; kept: UserFlyApp[] }> {
    if (observations.length === 0) return { written: [], kept: [] };
    const items = observations.map((o) => ({ ...o, patch: UserFlyAppPatchSchema.parse(o.patch) }));
    const rows = await this.#sql<{ id: string; kept: unknown }[]>`
      select id, kept from private.record_observations(${owner}, ${this.#json(items)})`;
    return {
      written: rows.map((row) => row.id),
      kept: rows.filter((row) => row.kept !== null).map((row) => UserFlyAppSchema.parse(row.kept)),
    };
  }

  /** Fleet listing: writes the machine states the fleet listing saw (one statement); returns the rows written. */
  async recordFleetStates(states: FleetState[]): Promise<FleetRow[]> {
    if (states.length === 0) return [];
    const rows = await this.#sql`select * from private.record_fleet_states(${this.#json(states)})`;
    return rows.map((row) => FleetRowSchema.parse(row));
  }

  /**
   * Feeds runtime accounting (`private.record_machine_observations`) with every observed machine's state as
   * of `observedAt`: after a complete listing, a row's last seen state is its state then.
   */
  async recordRuntime(observedAt: Date): Promise<number> {
    const [{ count }] = await this.#sql<{ count: number }[]>`
      select private.record_machine_observations(coalesce((
        select jsonb_agg(jsonb_build_object('user_id', a.user_id, 'machine_id', a.machine_id,
                                            'state', a.last_machine_state, 'observed_at', ${observedAt}::timestamptz))
        from public.user_fly_apps a
        where a.machine_id is not null and a.last_machine_state is not null and a.desired_state = 'present'
      ), '[]'::jsonb)) as count`;
    return count;
  }

  /** Ids of active rows that no fleet listing has seen since `since` (their app or machine vanished). */
  async unseenSince(since: Date, limit: number): Promise<string[]> {
    const rows = await this.#sql<{ id: string }[]>`select private.unseen_since(${since}, ${limit}) as id`;
    return rows.map((row) => row.id);
  }

  /**
   * Ids of rows due a detail check, most urgent first: not held and unhealthy or seen not started, then never
   * checked, then the stalest; none checked since `checkedBefore`.
   */
  async detailCandidates(limit: number, checkedBefore: Date): Promise<string[]> {
    const rows = await this.#sql<{ id: string }[]>`
      select a.id from public.user_fly_apps a
      where a.desired_state = 'present' and a.status in ('active', 'held') and a.fly_app_name is not null
        and (a.last_health_check_at is null or a.last_health_check_at < ${checkedBefore})
      order by (a.held_at is null and (a.health_status <> 'healthy'
                                        or a.last_machine_state is distinct from 'started')) desc,
               a.last_health_check_at nulls first, a.id
      limit ${limit}`;
    return rows.map((row) => row.id);
  }

  /** Opens the record of a sweep run; returns its id. */
  async startSweepRun(budgetMs: number): Promise<number> {
    const [{ id }] = await this.#sql<{ id: number }[]>`
      insert into public.fly_sweep_runs (budget_ms) values (${budgetMs}) returning id`;
    return Number(id);
  }

  /** Closes the record of a sweep run with its report (and the error that ended it, if any). */
  async finishSweepRun(
    id: number,
    run: { durationMs: number; stoppedEarly: boolean; report: object; error?: string },
  ): Promise<void> {
    await this.#sql`
      update public.fly_sweep_runs set finished_at = now(), duration_ms = ${run.durationMs},
        stopped_early = ${run.stoppedEarly}, report = ${this.#json(run.report)}, error = ${run.error ?? null}
      where id = ${id}`;
  }

  /** The newest sweep runs with their reports. */
  async recentSweepRuns(limit: number): Promise<Record<string, unknown>[]> {
    return await this.#sql<Record<string, unknown>[]>`
      select id, started_at, finished_at, duration_ms, budget_ms, stopped_early, error, report
      from public.fly_sweep_runs order by id desc limit ${limit}`;
  }

  /**
   * Where the fleet listing goes on from: the newest high-water mark a finished run recorded, and when the
   * last full listing (one that could see vanished machines) started.
   */
  async fleetCursor(): Promise<{ highWater: string | null; lastFullAt: string | null }> {
    const [row] = await this.#sql<{ high_water: string | null; last_full_at: string | null }[]>`
      select
        (select r.report #>> '{fleet,high_water}' from public.fly_sweep_runs r
         where r.report #>> '{fleet,high_water}' is not null order by r.id desc limit 1) as high_water,
        (select max(r.started_at)::text from public.fly_sweep_runs r
         where r.report #>> '{fleet,full}' = 'true' and r.report #>> '{fleet,error}' is null) as last_full_at`;
    return { highWater: row?.high_water ?? null, lastFullAt: row?.last_full_at ?? null };
  }

  /**
   * Drains the tier outbox without a kick (the caller reconciles the due rows itself); returns how many
   * changes were queued and how old the oldest was, in seconds, before draining.
   */
  async drainOutbox(limit: number): Promise<{ drained: number; users: number; oldest_age_s: number | null }> {
    const [{ age }] = await this.#sql<{ age: number | null }[]>`
      select private.tier_outbox_oldest_age_s()::float8 as age`;
    const [{ report }] = await this.#sql<{ report: { drained?: number; users?: number } }[]>`
      select private.drain_tier_outbox(${limit}, false) as report`;
    return { drained: report.drained ?? 0, users: report.users ?? 0, oldest_age_s: age };
  }

  /** Gives paid users without a row (or with a row saying absent) a due row; returns their ids. */
  async repairDesiredStateDrift(limit: number): Promise<string[]> {
    const rows = await this.#sql<{ user_id: string }[]>`
      select private.repair_desired_state_drift(${limit}) as user_id`;
    return rows.map((row) => row.user_id);
  }

  /** True when another user's row records `appName` (so an app of that name is not this user's). */
  async appNameUsedByAnotherUser(appName: string, userId: string): Promise<boolean> {
    const [{ used }] = await this.#sql<{ used: boolean }[]>`
      select exists(select 1 from public.user_fly_apps
                    where fly_app_name = ${appName} and user_id <> ${userId}::uuid) as used`;
    return used;
  }

  /**
   * Names of apps that rows expect to exist (desired present, or kept until a downgrade's grace period ends
   * and the app is deleted), for the orphan scan.
   */
  async expectedAppNames(): Promise<Set<string>> {
    const rows = await this.#sql<{ fly_app_name: string }[]>`
      select fly_app_name from public.user_fly_apps
      where fly_app_name is not null and (desired_state = 'present' or delete_after is not null)`;
    return new Set(rows.map((row) => row.fly_app_name));
  }

  /** Rows of a known app name, for orphan handling: who it belonged to and what they should have. */
  async rowsByAppName(names: string[]): Promise<Map<string, { user_id: string; desired_state: string }>> {
    if (names.length === 0) return new Map();
    const rows = await this.#sql<{ fly_app_name: string; user_id: string; desired_state: string }[]>`
      select fly_app_name, user_id, desired_state from public.user_fly_apps where fly_app_name = any(${names})`;
    return new Map(rows.map((row) => [row.fly_app_name, row]));
  }

  /** Users whose row is leased right now (a reconcile in flight may have created an app not yet recorded). */
  async usersInFlight(): Promise<string[]> {
    const rows = await this.#sql<{ user_id: string }[]>`
      select user_id from public.user_fly_apps where lease_expires_at > now()`;
    return rows.map((row) => row.user_id);
  }

  /** The user-facing status document (`public.get_user_fly_app_status`), or null when there is no row. */
  async status(userId: string): Promise<Record<string, unknown> | null> {
    const [{ status }] = await this.#sql<{ status: Record<string, unknown> | null }[]>`
      select public.get_user_fly_app_status(${userId}::uuid) as status`;
    return status;
  }

  /** Row counts by status and health, for the health function's GET. */
  async summary(): Promise<
    { status: string; health_status: string; desired_state: string; count: number }[]
  > {
    return await this.#sql<{ status: string; health_status: string; desired_state: string; count: number }[]>`
      select status, health_status, desired_state, count(*)::int as count
      from public.user_fly_apps group by 1, 2, 3 order by 1, 2, 3`;
  }
}
