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

/** Timestamps arrive as ISO strings inside jsonb. */
const timestamp = z.string().nullable();

/** One `public.user_fly_apps` row (the columns the engine uses; others are tolerated). */
export const UserFlyAppSchema = z.looseObject({
  id: z.string(),
  user_id: z.string(),
  fly_app_name: z.string().nullable(),
  fly_org_slug: z.string().nullable(),
  status: z.string(),
  region: z.string().nullable(),
  machine_id: z.string().nullable(),
  health_status: z.string().nullable(),
  retry_count: z.number().int(),
  desired_state: z.enum(["present", "absent"]),
  desired_generation: z.coerce.number().int(),
  observed_generation: z.coerce.number().int(),
  next_attempt_at: timestamp,
  lease_owner: z.string().nullable(),
  lease_expires_at: timestamp,
  secrets_version: z.coerce.number().int().nullable(),
  secrets_digest: z.string().nullable(),
  deployed_at: timestamp,
  deleted_at: timestamp,
});

/** A user app row. */
export type UserFlyApp = z.infer<typeof UserFlyAppSchema>;

/** The plan of a tier that gets a dedicated app. */
export const PlanSchema = z.looseObject({
  tier: z.string(),
  region: z.string(),
  cpu_kind: z.enum(["shared", "performance"]),
  cpus: z.number().int().positive(),
  memory_mb: z.number().int().positive(),
  image: z.string().nullable(),
  public_services: z.boolean(),
  monthly_cost_estimate_usd: z.coerce.number().nullable(),
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
  }),
  z.looseObject({
    user_id: z.string(),
    tier: z.string().nullable(),
    desired_state: z.literal("absent"),
    desired_generation: z.number().int().nullable(),
  }),
]);

/** The desired spec of one user. */
export type DesiredSpec = z.infer<typeof DesiredSpecSchema>;

/** Result of claiming one user's row. */
export type ClaimResult =
  | { status: "claimed"; app: UserFlyApp }
  | { status: "held"; app: UserFlyApp }
  | { status: "not_found" };

const ClaimResultSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("claimed"), app: UserFlyAppSchema }),
  z.object({ status: z.literal("held"), app: UserFlyAppSchema }),
  z.object({ status: z.literal("not_found") }).loose(),
]);

/** One audit event to append with an outcome. */
export interface AppEvent {
  event_type: string;
  status?: "info" | "ok" | "warning" | "error";
  metadata?: Record<string, unknown>;
  error_details?: string;
}

/** Observed columns an outcome may set (the SQL API rejects any other key). */
export interface ObservedPatch {
  status?: string;
  fly_app_name?: string | null;
  fly_org_slug?: string | null;
  region?: string | null;
  docker_image?: string | null;
  cpu_kind?: string | null;
  cpu_count?: number | null;
  memory_mb?: number | null;
  machine_id?: string | null;
  image_digest?: string | null;
  secrets_version?: number | null;
  secrets_digest?: string | null;
  deployed_at?: string | null;
  deleted_at?: string | null;
  health_status?: string | null;
  last_health_check_at?: string | null;
  monthly_cost_estimate_usd?: number | null;
}

/** Result of recording a failed attempt. */
export interface FailureRecord {
  app: UserFlyApp;
  alertRaised: boolean;
  stale: boolean;
  retryInSeconds: number | null;
}

const FailureRecordSchema = z.object({
  app: UserFlyAppSchema,
  alert_raised: z.boolean(),
  stale: z.boolean(),
  retry_in_seconds: z.number().nullable(),
});

const HealthRecordSchema = z.object({ app: UserFlyAppSchema, changed: z.boolean() });

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

  /** Leases one user's row for `owner`; `held` when another reconciler has it. */
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

  /**
   * Leases up to `limit` active rows whose last health check is the oldest (never checked first), older than
   * `minAgeSeconds` and older than `checkedBefore` (a sweep's start: each app is observed once per sweep).
   */
  async claimStale(
    owner: string,
    limit: number,
    leaseSeconds: number,
    minAgeSeconds: number,
    checkedBefore: Date,
  ): Promise<UserFlyApp[]> {
    const rows = await this.#sql<{ app: unknown }[]>`
      select private.claim_stale_user_fly_apps(${owner}, ${limit}, ${leaseSeconds}, ${minAgeSeconds},
        ${checkedBefore}) as app`;
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

  /** Records that Fly matches `generation`; applies the patch, appends events, releases the lease. */
  async recordSuccess(
    appId: string,
    owner: string,
    generation: number,
    patch: ObservedPatch,
    events: AppEvent[],
  ): Promise<UserFlyApp> {
    const [{ app }] = await this.#sql<{ app: unknown }[]>`
      select private.record_reconcile_success(${appId}::uuid, ${owner}, ${generation},
        ${this.#json(patch)}, ${this.#json(events)}) as app`;
    return UserFlyAppSchema.parse(app);
  }

  /** Records a failed attempt: backoff or permanent error, events, alert flag; releases the lease. */
  async recordFailure(
    appId: string,
    owner: string,
    generation: number,
    failure: { message: string; retryable: boolean; alertAfter: number },
    patch: ObservedPatch,
    events: AppEvent[],
  ): Promise<FailureRecord> {
    const [{ result }] = await this.#sql<{ result: unknown }[]>`
      select private.record_reconcile_failure(${appId}::uuid, ${owner}, ${generation}, ${failure.message},
        ${failure.retryable}, ${this.#json(patch)},
        ${this.#json(events)}, p_alert_after => ${failure.alertAfter}) as result`;
    const parsed = FailureRecordSchema.parse(result);
    return {
      app: parsed.app,
      alertRaised: parsed.alert_raised,
      stale: parsed.stale,
      retryInSeconds: parsed.retry_in_seconds,
    };
  }

  /** Records a health observation (a `health_changed` event only on change). */
  async recordHealth(
    appId: string,
    owner: string,
    healthStatus: string,
    details: Record<string, unknown>,
    release: boolean,
  ): Promise<{ app: UserFlyApp; changed: boolean }> {
    const [{ result }] = await this.#sql<{ result: unknown }[]>`
      select private.record_health_check(${appId}::uuid, ${owner}, ${healthStatus},
        ${this.#json(details)}, ${release}) as result`;
    return HealthRecordSchema.parse(result);
  }

  /** Appends one audit event for a user. */
  async appendEvent(userId: string, event: AppEvent): Promise<void> {
    await this.#sql`select private.append_user_fly_app_event(${userId}::uuid, ${event.event_type},
      ${event.status ?? "info"}, ${this.#json(event.metadata ?? {})},
      ${event.error_details ?? null})`;
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

  /** Names of apps that rows expect to exist (desired present), for the orphan scan. */
  async expectedAppNames(): Promise<Set<string>> {
    const rows = await this.#sql<{ fly_app_name: string }[]>`
      select fly_app_name from public.user_fly_apps
      where fly_app_name is not null and desired_state = 'present'`;
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
