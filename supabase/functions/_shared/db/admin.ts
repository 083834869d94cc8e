/**
 * Read queries and ops actions of the `fly-apps-admin` function, on the database owner's connection. Reads
 * go to the tables directly (the function is the service side); changes go through the private SQL API
 * (`private.retry_user_fly_apps`, `private.set_user_fly_app_hold`, ...), which appends the events.
 *
 * Values come back JSON-ready: numerics as numbers, bigints as numbers, timestamps as ISO strings.
 *
 * @module
 */
import type postgres from "postgres";
import type { Sql } from "./client.ts";
import { IN_FLIGHT_STATUSES } from "../vocabulary.ts";

/** The statuses the summary counts under their own names; the rest (held, suspended) are `other`. */
const COUNTED_STATUSES = ["active", "error", "failed", ...IN_FLIGHT_STATUSES];

/** A JSON-ready row. */
export type JsonRow = Record<string, unknown>;

/** How the app list can be sorted: a non-null SQL expression and the type its cursor value is cast to. */
export const APP_SORT_KEYS = {
  updated_at: { expr: "a.updated_at", cast: "timestamptz" },
  created_at: { expr: "a.created_at", cast: "timestamptz" },
  user_id: { expr: "a.user_id::text", cast: "text" },
  // Email, then user id (a row without an email sorts first): byte order, so the cursor compares as the sort.
  email: { expr: `(lower(coalesce(u.email, '')) || ' ' || a.user_id::text) collate "C"`, cast: "text" },
  status: { expr: "a.status", cast: "text" },
  health: { expr: "a.health_status", cast: "text" },
  retry_count: { expr: "a.retry_count", cast: "integer" },
  cost: { expr: "coalesce(a.monthly_cost_estimate_usd, 0)", cast: "numeric" },
} as const;

/** A sort key of the app list. */
export type AppSortKey = keyof typeof APP_SORT_KEYS;

/** Filters, order and page of the app list. */
export interface AppListQuery {
  status?: string;
  health?: string;
  tier?: string;
  region?: string;
  image?: string;
  drift?: boolean;
  in_sync?: boolean;
  held?: boolean;
  /** Only users with (true) or without (false) an ops override. */
  overridden?: boolean;
  /** Substring of the user id, the email or the app name (case-insensitive). */
  q?: string;
  sort: AppSortKey;
  order: "asc" | "desc";
  limit: number;
  /** Where the previous page ended: the sort value and the row id. */
  after?: { value: string; id: string };
}

/** The fields of an ops override (`public.user_fly_app_overrides`). */
export interface OverrideFields {
  cpu_kind?: "shared" | "performance";
  cpus?: number;
  memory_mb?: number;
  region?: string;
  image?: string;
}

/** The columns every app listing shows. */
const APP_COLUMNS = `
  a.id, a.user_id, u.email, s.tier, a.fly_app_name, a.fly_org_slug, a.status, a.health_status,
  a.desired_state, a.desired_generation::int, a.observed_generation::int, a.in_sync, a.drift, a.region,
  a.docker_image, a.image_digest, a.cpu_kind, a.cpu_count, a.memory_mb, a.machine_id, a.last_machine_state,
  a.last_observed_at, a.last_health_check_at, a.held_at, a.held_by, a.hold_reason, a.error_message,
  a.retry_count, a.next_attempt_at, a.lease_owner, a.lease_expires_at,
  a.monthly_cost_estimate_usd::float8 as monthly_cost_estimate_usd, a.deployed_at, a.deleted_at, a.delete_after,
  a.volume_id, a.credential_expires_at, ov.override, private.user_fly_app_idle_since(a.user_id) as idle_since,
  a.created_at, a.updated_at`;

/** The apps/events tables joined with the user's email and tier. */
const APP_FROM = `
  public.user_fly_apps a
  left join auth.users u on u.id = a.user_id
  left join public.user_subscriptions s on s.user_id = a.user_id
  left join lateral (select private.user_fly_app_override(a.user_id) as override) ov on true`;

/**
 * Summary figures of the fleet (the seed admin panel's stats grid). Every count but `deleted` is over the
 * rows that are not deleted, so `total` is the sum of the statuses it shows.
 */
export interface FleetSummary {
  /** Rows that are not deleted. */
  total: number;
  active: number;
  errors: number;
  failed: number;
  pending: number;
  held: number;
  out_of_sync: number;
  /** Rows whose last observation found drift (image, size, checks, ...). */
  drifted: number;
  unhealthy: number;
  /** Active rows whose machine Fly's proxy idled as their plan allows (not counted unhealthy). */
  idle: number;
  /** Other statuses (suspended in a grace period, held). */
  other: number;
  /** Deleted rows (their apps are gone), shown apart from the total. */
  deleted: number;
  estimated_monthly_cost_usd: number;
}

/** Migration progress: paid users and where their apps are. */
export interface MigrationProgress {
  paid_users: number;
  without_row: number;
  active: number;
  in_progress: number;
  failed: number;
  errors: { user_id: string; status: string; error_message: string | null; retry_count: number }[];
}

/** Admin queries and actions on one Postgres client. */
export class AdminRepository {
  readonly #sql: Sql;

  /** Wraps a postgres.js client connected as the database owner (SUPABASE_DB_URL). */
  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** A page of apps matching `query`, and whether more follow. */
  async listApps(query: AppListQuery): Promise<{ apps: JsonRow[]; more: boolean }> {
    const sql = this.#sql;
    const sort = APP_SORT_KEYS[query.sort];
    const key = sql.unsafe(sort.expr);
    const direction = sql.unsafe(query.order === "asc" ? "asc" : "desc");
    const compare = sql.unsafe(query.order === "asc" ? ">" : "<");
    const like = query.q ? `%${query.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%` : undefined;
    const when = (condition: boolean, fragment: postgres.PendingQuery<postgres.Row[]>) =>
      condition ? fragment : sql``;
    const rows = await sql<JsonRow[]>`
      select ${sql.unsafe(APP_COLUMNS)}, (${key})::text as sort_value
      from ${sql.unsafe(APP_FROM)}
      where true
        ${when(query.status !== undefined, sql`and a.status = ${query.status ?? ""}`)}
        ${when(query.health !== undefined, sql`and a.health_status = ${query.health ?? ""}`)}
        ${when(query.tier !== undefined, sql`and s.tier = ${query.tier ?? ""}`)}
        ${when(query.region !== undefined, sql`and a.region = ${query.region ?? ""}`)}
        ${when(query.image !== undefined, sql`and a.docker_image = ${query.image ?? ""}`)}
        ${when(query.drift !== undefined, sql`and (a.drift <> '{}'::jsonb) = ${query.drift ?? false}`)}
        ${when(query.in_sync !== undefined, sql`and a.in_sync = ${query.in_sync ?? true}`)}
        ${when(query.held !== undefined, sql`and (a.held_at is not null) = ${query.held ?? false}`)}
        ${
      when(query.overridden !== undefined, sql`and (ov.override is not null) = ${query.overridden ?? false}`)
    }
        ${
      when(
        like !== undefined,
        sql`and (a.user_id::text ilike ${like ?? ""} or u.email ilike ${like ?? ""}
                 or a.fly_app_name ilike ${like ?? ""})`,
      )
    }
        ${
      when(
        query.after !== undefined,
        sql`and (${key}, a.id) ${compare} (${query.after?.value ?? ""}::${sql.unsafe(sort.cast)},
                                             ${query.after?.id ?? ""}::uuid)`,
      )
    }
      order by ${key} ${direction}, a.id ${direction}
      limit ${query.limit + 1}`;
    return { apps: rows.slice(0, query.limit), more: rows.length > query.limit };
  }

  /** The tiers `public.fly_plans` knows, sorted. */
  async tiers(): Promise<string[]> {
    const rows = await this.#sql<{ tier: string }[]>`select tier from public.fly_plans order by tier`;
    return rows.map((row) => row.tier);
  }

  /** One user's row with email, tier and plan, or null when neither a row nor a subscription exists. */
  async appDetail(
    userId: string,
  ): Promise<{ app: JsonRow | null; tier: string | null; plan: JsonRow | null }> {
    const sql = this.#sql;
    const [subscription] = await sql<{ tier: string }[]>`
      select tier from public.user_subscriptions where user_id = ${userId}::uuid`;
    const [app] = await sql<JsonRow[]>`
      select ${sql.unsafe(APP_COLUMNS)} from ${sql.unsafe(APP_FROM)} where a.user_id = ${userId}::uuid`;
    const [plan] = subscription
      ? await sql<JsonRow[]>`
          select tier, dedicated_app, region, cpu_kind, cpus, memory_mb, image, public_services, idle_action,
                 monthly_cost_estimate_usd::float8 as monthly_cost_estimate_usd
          from public.fly_plans where tier = ${subscription.tier}`
      : [];
    return { app: app ?? null, tier: subscription?.tier ?? null, plan: plan ?? null };
  }

  /** One user's events, newest first, before sequence number `before`. */
  async userEvents(userId: string, limit: number, before?: number): Promise<JsonRow[]> {
    return await this.#sql<JsonRow[]>`
      select seq::int, id, user_id, fly_app_id, event_type, status, metadata, error_details, created_at
      from public.user_fly_app_events
      where user_id = ${userId}::uuid and (${before ?? null}::bigint is null or seq < ${
      before ?? null
    }::bigint)
      order by seq desc limit ${limit}`;
  }

  /** Recent events of the whole fleet, newest first, optionally of some types and statuses. */
  async fleetEvents(
    options: { types?: string[]; status?: string; limit: number; before?: number },
  ): Promise<JsonRow[]> {
    const { types, status, limit, before } = options;
    return await this.#sql<JsonRow[]>`
      select seq::int, id, user_id, fly_app_id, event_type, status, metadata, error_details, created_at
      from public.user_fly_app_events
      where (${types ?? null}::text[] is null or event_type = any(${types ?? null}::text[]))
        and (${status ?? null}::text is null or status = ${status ?? null}::text)
        and (${before ?? null}::bigint is null or seq < ${before ?? null}::bigint)
      order by seq desc limit ${limit}`;
  }

  /** Figures of the whole fleet. */
  async summary(): Promise<FleetSummary> {
    // A list goes as one text parameter split in SQL: a JS array parameter is serialised as an array only
    // once postgres.js has fetched the array types, which a fresh pool's first query may precede.
    const textArray = (values: readonly string[]) => this.#sql`string_to_array(${values.join(",")}, ',')`;
    const [row] = await this.#sql<FleetSummary[]>`
      select count(*) filter (where live)::int as total,
             count(*) filter (where live and status = 'active')::int as active,
             count(*) filter (where live and status = 'error')::int as errors,
             count(*) filter (where live and status = 'failed')::int as failed,
             count(*) filter (where live and status = any(${textArray(IN_FLIGHT_STATUSES)}))::int as pending,
             count(*) filter (where live and status <> all(${textArray(COUNTED_STATUSES)}))::int as other,
             count(*) filter (where live and held_at is not null)::int as held,
             count(*) filter (where live and not in_sync)::int as out_of_sync,
             count(*) filter (where live and drift <> '{}'::jsonb)::int as drifted,
             count(*) filter (where live and status = 'active' and health_status not in ('healthy', 'idle'))::int
               as unhealthy,
             count(*) filter (where live and status = 'active' and health_status = 'idle')::int as idle,
             count(*) filter (where not live)::int as deleted,
             coalesce(sum(monthly_cost_estimate_usd) filter (where live), 0)::float8
               as estimated_monthly_cost_usd
      from (select *, status <> 'deleted' as live from public.user_fly_apps) a`;
    return row;
  }

  /** The most recent sweep runs with their reports. */
  async sweepRuns(limit: number): Promise<JsonRow[]> {
    return await this.#sql<JsonRow[]>`
      select id::int, started_at, finished_at, duration_ms, budget_ms, stopped_early, error, report
      from public.fly_sweep_runs order by started_at desc, id desc limit ${limit}`;
  }

  /** The last sweep run whose report has an orphan scan, or undefined. */
  async lastOrphanScan(): Promise<JsonRow | undefined> {
    const [run] = await this.#sql<JsonRow[]>`
      select id::int, started_at, finished_at, report -> 'orphans' as orphans
      from public.fly_sweep_runs where report ? 'orphans'
      order by started_at desc, id desc limit 1`;
    return run;
  }

  /** Rows recording any of `names`: whose app it is and what they should have. */
  async rowsByAppName(names: string[]): Promise<Map<string, JsonRow>> {
    if (names.length === 0) return new Map();
    const rows = await this.#sql<JsonRow[]>`
      select a.fly_app_name, a.user_id, a.desired_state, a.status, s.tier,
             coalesce(p.dedicated_app, false) as paid, a.lease_expires_at > now() as in_flight
      from public.user_fly_apps a
      left join public.user_subscriptions s on s.user_id = a.user_id
      left join public.fly_plans p on p.tier = s.tier
      where a.fly_app_name = any(${names})`;
    return new Map(rows.map((row) => [String(row.fly_app_name), row]));
  }

  /** Whether `userId` is on a tier whose plan has a dedicated app. */
  async isPaidUser(userId: string): Promise<boolean> {
    const [row] = await this.#sql<{ paid: boolean }[]>`
      select coalesce(bool_or(p.dedicated_app), false) as paid from public.user_subscriptions s
      join public.fly_plans p on p.tier = s.tier where s.user_id = ${userId}::uuid`;
    return row?.paid ?? false;
  }

  /** Users whose row is leased right now (a reconcile in flight). */
  async usersInFlight(): Promise<string[]> {
    const rows = await this.#sql<{ user_id: string }[]>`
      select user_id from public.user_fly_apps where lease_expires_at > now()`;
    return rows.map((row) => row.user_id);
  }

  /** Ops retry of one user, or of every row with one of `statuses`; returns the user ids made due. */
  async retry(
    options: { actor: string; userId?: string; statuses?: string[]; reason?: string; limit: number },
  ): Promise<string[]> {
    const { actor, userId, statuses, reason, limit } = options;
    const rows = await this.#sql<{ user_id: string }[]>`
      select private.retry_user_fly_apps(${actor}, ${userId ?? null}::uuid, ${statuses ?? null}::text[],
        ${reason ?? null}, ${limit}) as user_id`;
    return rows.map((row) => row.user_id);
  }

  /**
   * Sets (held) or clears the hold of a user's machine; returns the row. Holding a held row is refused (55000
   * naming who holds it, since when and why) unless `replace`, which records the replaced hold in the event.
   */
  async setHold(
    options: { userId: string; held: boolean; actor: string; reason?: string; replace?: boolean },
  ): Promise<JsonRow> {
    const { userId, held, actor, reason, replace = false } = options;
    const [{ row }] = await this.#sql<{ row: JsonRow }[]>`
      select private.set_user_fly_app_hold(${userId}::uuid, ${held}, ${actor}, ${reason ?? null},
                                           ${replace}) as row`;
    return row;
  }

  /**
   * Sets (`fields` with at least one value) or clears (`{}`) a user's ops override, with actor and reason
   * (`private.set_user_fly_app_override`: bad values raise 22023, nothing written; the row is due now).
   */
  async setOverride(
    options: { userId: string; fields: OverrideFields; actor: string; reason?: string },
  ): Promise<{ override: JsonRow | null; due: boolean }> {
    const { userId, fields, actor, reason } = options;
    const [{ result }] = await this.#sql<{ result: { override: JsonRow | null; due: boolean } }[]>`
      select private.set_user_fly_app_override(${userId}::uuid, ${
      this.#sql.json(fields as postgres.JSONValue)
    },
                                               ${actor}, ${reason ?? null}) as result`;
    return result;
  }

  /** Appends one event naming the actor. */
  async appendEvent(
    userId: string,
    event: { type: string; status?: string; metadata: Record<string, unknown>; error?: string },
  ): Promise<void> {
    await this.#sql`select private.append_user_fly_app_event(${userId}::uuid, ${event.type},
      ${event.status ?? "info"}, ${this.#sql.json(event.metadata as postgres.JSONValue)}, ${
      event.error ?? null
    })`;
  }

  /** The price table. */
  async prices(): Promise<JsonRow[]> {
    return await this.#sql<JsonRow[]>`
      select item, monthly_usd::float8 as monthly_usd, included_memory_mb_per_cpu, description, source,
             updated_at
      from public.fly_prices order by item`;
  }

  /** Sets one price (plans and rows are re-estimated by the table's trigger); false when no such item. */
  async setPrice(item: string, monthlyUsd: number, source: string): Promise<boolean> {
    const rows = await this.#sql`
      update public.fly_prices set monthly_usd = ${monthlyUsd}, source = ${source}, updated_at = now()
      where item = ${item} returning item`;
    return rows.length > 0;
  }

  /** The dedicated-app plan of `tier` (`PlanSchema`'s fields), or undefined. */
  async dedicatedPlan(tier: string): Promise<JsonRow | undefined> {
    const [plan] = await this.#sql<JsonRow[]>`
      select tier, region, cpu_kind, cpus, memory_mb, image, public_services, idle_action,
             monthly_cost_estimate_usd::float8 as monthly_cost_estimate_usd
      from public.fly_plans where tier = ${tier} and dedicated_app`;
    return plan;
  }

  /**
   * Sets a plan's `idle_action` and, when it changed, makes the tier's machines due for a reconcile, each
   * with a `retry_requested` event naming `actor` (`private.set_plan_idle_action`, one transaction).
   */
  async setIdleAction(
    tier: string,
    idleAction: string,
    audit: { actor: string; reason?: string },
  ): Promise<{ tier: string; previous: string; idle_action: string; due_users: number }> {
    const [{ result }] = await this.#sql<{ result: never }[]>`
      select private.set_plan_idle_action(${tier}, ${idleAction}, ${audit.actor}, ${audit.reason ?? null})
        as result`;
    return result;
  }

  /**
   * Usage of month `month` (first day, `YYYY-MM-01`), from what really ran: per user the estimated monthly
   * cost, the observed running time and its share of the time the app existed in the month, and the observed
   * cost: running time at the row's machine size plus the rest at its storage price (hours / 720 of the
   * 30-day prices), against `always_on_usd`, the same time all running (`idle_action: off`). Per plan the
   * sums, its `idle_action`, the running share and `cost_ratio` = observed / always on. Storage kept for
   * the user: their volume snapshots still within their retention (`snapshot_gb`, priced per month at
   * `snapshot_gb` of the price table: every GB, though Fly bills only beyond the organization's first 10 GB)
   * and the volumes operators' restores keep (`kept_volume_gb`, at `volume_gb`). A user without an app who
   * still has snapshots or kept volumes is listed.
   */
  async usage(month: string): Promise<{ users: JsonRow[]; plans: JsonRow[] }> {
    const users = await this.#sql<JsonRow[]>`
      with days as (
        select user_id, sum(running_seconds)::bigint as running_seconds, count(*)::int as days_observed
        from public.user_fly_app_usage_daily
        where day >= ${month}::date and day < (${month}::date + interval '1 month')
        group by user_id
      ),
      snapshots as (
        select user_id, sum(size_bytes) / 1024.0 ^ 3 as gb from public.user_fly_volume_snapshots
        where status = 'created' and expires_at > now() group by user_id
      ),
      kept as (
        select user_id, sum(kept_size_gb) as gb from public.user_fly_volume_moves
        where kept_state = 'kept' group by user_id
      ),
      costed as (
        select a.*, s.tier, p.idle_action, u.email, coalesce(d.running_seconds, 0) as run_s,
               coalesce(d.days_observed, 0) as days_observed,
               greatest(0, extract(epoch from
                 least(now(), ${month}::date + interval '1 month', coalesce(a.deleted_at, 'infinity'))
                 - greatest(${month}::date::timestamptz, a.created_at))) as existed_s,
               coalesce(private.machine_monthly_cost_usd(a.cpu_kind, a.cpu_count, a.memory_mb), 0) as running_price,
               private.storage_monthly_cost_usd(case when a.volume_id is null then 0 else p.volume_size_gb end)
                 as storage_price,
               coalesce(sn.gb, 0) as snap_gb, coalesce(k.gb, 0) as kept_gb
        from public.user_fly_apps a
        left join days d on d.user_id = a.user_id
        left join snapshots sn on sn.user_id = a.user_id
        left join kept k on k.user_id = a.user_id
        left join auth.users u on u.id = a.user_id
        left join public.user_subscriptions s on s.user_id = a.user_id
        left join public.fly_plans p on p.tier = s.tier
        where a.desired_state = 'present' or d.user_id is not null or sn.user_id is not null
           or k.user_id is not null
      )
      select user_id, email, tier, idle_action, fly_app_name, status, cpu_kind, cpu_count, memory_mb,
             coalesce(monthly_cost_estimate_usd, 0)::float8 as estimated_monthly_usd,
             run_s::int as running_seconds,
             round(run_s / 3600.0, 2)::float8 as running_hours,
             days_observed,
             round(greatest(existed_s, run_s))::int as existed_seconds,
             case when greatest(existed_s, run_s) > 0 then round(run_s / greatest(existed_s, run_s), 3)::float8 end
               as running_share,
             round((run_s * running_price + greatest(existed_s - run_s, 0) * storage_price) / (720 * 3600.0),
                   2)::float8 as observed_usd,
             round(greatest(existed_s, run_s) * running_price / (720 * 3600.0), 2)::float8 as always_on_usd,
             round(snap_gb::numeric, 3)::float8 as snapshot_gb,
             round(snap_gb::numeric
                   * coalesce((select p.monthly_usd from public.fly_prices p where p.item = 'snapshot_gb'), 0),
                   2)::float8 as snapshot_monthly_usd,
             kept_gb::int as kept_volume_gb,
             round(kept_gb
                   * coalesce((select p.monthly_usd from public.fly_prices p where p.item = 'volume_gb'), 0),
                   2)::float8 as kept_volume_monthly_usd
      from costed
      order by observed_usd desc, user_id`;
    const plans = new Map<string, JsonRow>();
    for (const user of users) {
      const tier = String(user.tier ?? "none");
      const plan = plans.get(tier) ?? {
        tier,
        idle_action: user.idle_action ?? null,
        users: 0,
        estimated_monthly_usd: 0,
        running_hours: 0,
        observed_usd: 0,
        always_on_usd: 0,
        snapshot_monthly_usd: 0,
        kept_volume_monthly_usd: 0,
        running_seconds: 0,
        existed_seconds: 0,
      };
      plan.users = Number(plan.users) + 1;
      const summed = [
        "estimated_monthly_usd",
        "running_hours",
        "observed_usd",
        "always_on_usd",
        "snapshot_monthly_usd",
        "kept_volume_monthly_usd",
      ];
      for (const key of summed) {
        plan[key] = Math.round((Number(plan[key]) + Number(user[key])) * 100) / 100;
      }
      for (const key of ["running_seconds", "existed_seconds"]) {
        plan[key] = Number(plan[key]) + Number(user[key]);
      }
      plans.set(tier, plan);
    }
    const ratio = (a: number, b: number) => b > 0 ? Math.round(a / b * 1000) / 1000 : null;
    for (const plan of plans.values()) {
      plan.running_share = ratio(Number(plan.running_seconds), Number(plan.existed_seconds));
      plan.cost_ratio = ratio(Number(plan.observed_usd), Number(plan.always_on_usd));
    }
    return { users, plans: [...plans.values()] };
  }

  /** One user's running time per day over the last `days` days, newest first. */
  async userUsageDays(userId: string, days: number): Promise<JsonRow[]> {
    return await this.#sql<JsonRow[]>`
      select day::text, running_seconds, observations from public.user_fly_app_usage_daily
      where user_id = ${userId}::uuid and day > current_date - ${days}::int
      order by day desc`;
  }

  /**
   * Gives up to `limit` paid users without an app a due row (the drift repair the sweep also runs), each with
   * a `migration_enqueued` event naming `actor`; one transaction.
   */
  async enqueueMigration(limit: number, actor: string): Promise<string[]> {
    const rows = await this.#sql<{ user_id: string }[]>`
      with enqueued as (select private.repair_desired_state_drift(${limit}) as user_id)
      select user_id, private.append_user_fly_app_event(user_id, 'migration_enqueued', 'info',
                                                       jsonb_build_object('actor', ${actor}::text))
      from enqueued`;
    return rows.map((row) => row.user_id);
  }

  /** Where the paid users' apps stand. */
  async migrationProgress(): Promise<MigrationProgress> {
    const [counts] = await this.#sql<Omit<MigrationProgress, "errors">[]>`
      select count(*)::int as paid_users,
             count(*) filter (where a.id is null or a.desired_state = 'absent')::int as without_row,
             count(*) filter (where a.status = 'active' and a.observed_generation >= a.desired_generation
                              and a.desired_state = 'present')::int as active,
             count(*) filter (where a.desired_state = 'present'
                              and (a.status in ('pending', 'provisioning', 'failed', 'deprovisioning')
                                   or (a.status = 'active' and a.observed_generation < a.desired_generation)))::int
               as in_progress,
             count(*) filter (where a.status = 'error')::int as failed
      from public.user_subscriptions s
      join public.fly_plans p on p.tier = s.tier and p.dedicated_app
      left join public.user_fly_apps a on a.user_id = s.user_id`;
    const errors = await this.#sql<MigrationProgress["errors"]>`
      select a.user_id, a.status, a.error_message, a.retry_count
      from public.user_fly_apps a
      join public.user_subscriptions s on s.user_id = a.user_id
      join public.fly_plans p on p.tier = s.tier and p.dedicated_app
      where a.status in ('error', 'failed') order by a.user_id limit 100`;
    return { ...counts, errors };
  }

  /**
   * The database side of `ops doctor` (`private.ops_doctor_report`); `adminSecretSha256` (hex) lets it say
   * whether Vault holds the admin secret, without the secret reaching the database.
   */
  async doctorReport(adminSecretSha256: string): Promise<JsonRow> {
    const [{ report }] = await this.#sql<{ report: JsonRow }[]>`
      select private.ops_doctor_report(${adminSecretSha256}) as report`;
    return report;
  }
}
