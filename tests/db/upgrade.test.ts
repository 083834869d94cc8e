/**
 * The migrations apply with the real `supabase db push` on an empty database and on one shaped like the seed
 * system's (with rows, which are kept); pushing again applies nothing, and running every file a second time
 * by hand changes nothing.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { createScratchDatabase, type ScratchDatabase } from "../_support/database.ts";
import { listMigrations } from "../../scripts/local/migrate.ts";
import { dbPush } from "../../scripts/local/supabase_cli.ts";
import { paths } from "../../scripts/local/paths.ts";
import { applyTierChanges } from "../_support/tier_outbox.ts";

/** The tables as the seed system created them (columns the seed code uses; its FKs and NOT NULLs). */
const SEED_SCHEMA = `
  create table public.user_subscriptions (
    user_id uuid primary key references auth.users (id) on delete cascade,
    tier text not null default 'free',
    created_at timestamptz default now()
  );
  create table public.user_fly_apps (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    fly_app_name text not null unique,
    fly_org_slug text not null,
    status text not null default 'provisioning',
    region text not null default 'sin',
    docker_image text not null,
    cpu_count integer default 2,
    memory_mb integer default 512,
    error_message text,
    retry_count integer default 0,
    deployed_at timestamptz,
    health_status text,
    deleted_at timestamptz,
    machine_id text,
    monthly_cost_estimate_usd numeric(10, 2),
    created_at timestamptz default now()
  );
  create table public.user_fly_app_events (
    id uuid primary key default gen_random_uuid(),
    fly_app_id uuid references public.user_fly_apps (id) on delete cascade,
    user_id uuid references auth.users (id) on delete cascade,
    event_type text not null,
    status text,
    metadata jsonb,
    error_details text,
    created_at timestamptz default now()
  );`;

interface SeedUsers {
  active: string;
  deleted: string;
  failed: string;
  duplicated: string;
  deleting: string;
}

async function seed(db: ScratchDatabase): Promise<SeedUsers & { oldRowId: string }> {
  const users: SeedUsers = {
    active: crypto.randomUUID(),
    deleted: crypto.randomUUID(),
    failed: crypto.randomUUID(),
    duplicated: crypto.randomUUID(),
    deleting: crypto.randomUUID(),
  };
  await db.sql.unsafe(SEED_SCHEMA);
  await db.sql`insert into auth.users (id) select unnest(${Object.values(users)}::uuid[])`;
  await db.sql`insert into public.user_subscriptions (user_id, tier) values
    (${users.active}, 'pro'), (${users.deleted}, 'free'), (${users.failed}, 'elite'), (${users.duplicated}, 'pro')`;
  const app = (
    user: string,
    name: string,
    status: string,
    extra: { deleted?: boolean; created?: string } = {},
  ) =>
    db.sql`insert into public.user_fly_apps
        (user_id, fly_app_name, fly_org_slug, status, docker_image, machine_id, deleted_at, created_at,
         error_message, deployed_at)
      values (${user}, ${name}, 'acme', ${status}, 'registry.fly.io/backend:v1', 'm-' || ${name},
        ${extra.deleted ? new Date("2026-01-02") : null}, ${extra.created ?? "2026-01-01"},
        ${status === "failed" ? "HTTP 500" : null}, ${status === "active" ? new Date("2026-01-01") : null})
      returning id`;
  await app(users.active, "vyx-user-aaaa0001", "active");
  await app(users.deleted, "vyx-user-aaaa0002", "deleted", { deleted: true });
  await app(users.failed, "vyx-user-aaaa0003", "failed");
  const [old] = await app(users.duplicated, "vyx-user-aaaa0004", "deleted", {
    deleted: true,
    created: "2025-06-01",
  });
  await app(users.duplicated, "vyx-user-aaaa0004-2", "active", { created: "2026-02-01" });
  await app(users.deleting, "vyx-user-aaaa0005", "deleting");
  await db.sql`insert into public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata)
    select id, user_id, 'provision_completed', 'success', jsonb_build_object('seed', fly_app_name)
    from public.user_fly_apps`;
  return { ...users, oldRowId: old.id };
}

Deno.test("migrations apply to a seed-shaped database with rows and keep them", async () => {
  const db = await createScratchDatabase({ standIns: true, withoutPgCron: true });
  try {
    const users = await seed(db);
    await dbPush(db.url);
    const recorded = await db.sql`select version from supabase_migrations.schema_migrations order by version`;
    assertEquals(
      recorded.map((r) => r.version),
      (await listMigrations(paths.migrations)).map((m) => m.version),
    );

    const rows = await db.sql`
      select user_id, fly_app_name, status, desired_state, desired_generation::int as dg,
             observed_generation::int as og, next_attempt_at is not null as due, machine_id, docker_image
      from public.user_fly_apps order by fly_app_name`;
    const byUser = Object.fromEntries(rows.map((r) => [r.user_id, r]));
    assertEquals(rows.length, 5, "one row per user");
    // Converged rows are not due; the others are.
    assertEquals(
      [
        byUser[users.active].status,
        byUser[users.active].desired_state,
        byUser[users.active].og,
        byUser[users.active].due,
      ],
      ["active", "present", 1, false],
    );
    assertEquals(
      [byUser[users.deleted].status, byUser[users.deleted].desired_state, byUser[users.deleted].due],
      ["deleted", "absent", false],
    );
    assertEquals(
      [
        byUser[users.failed].status,
        byUser[users.failed].desired_state,
        byUser[users.failed].og,
        byUser[users.failed].due,
      ],
      ["failed", "present", 0, true],
    );
    // 'deleting' is mapped; with no subscription row the seed's own record decides: absent.
    assertEquals(
      [byUser[users.deleting].status, byUser[users.deleting].desired_state, byUser[users.deleting].due],
      ["deprovisioning", "absent", true],
    );
    assert(rows.every((r) => r.dg === 1), "every migrated row starts at generation 1");
    assertEquals(byUser[users.active].machine_id, "m-vyx-user-aaaa0001", "seed values are kept");
    assertEquals(byUser[users.active].docker_image, "registry.fly.io/backend:v1");

    // The duplicate: the live row is kept, the old one archived in full, its events re-pointed.
    assertEquals(byUser[users.duplicated].fly_app_name, "vyx-user-aaaa0004-2");
    const [archived] = await db.sql`select id, kept_id, row_data from private.user_fly_apps_archive`;
    assertEquals(archived.id, users.oldRowId);
    assertEquals(archived.row_data.fly_app_name, "vyx-user-aaaa0004");
    const events = await db.sql`
      select e.event_type, e.metadata, e.fly_app_id, a.user_id as app_user from public.user_fly_app_events e
      left join public.user_fly_apps a on a.id = e.fly_app_id`;
    assertEquals(
      events.filter((e) => e.event_type === "provision_completed").length,
      6,
      "every seed event kept",
    );
    assert(events.every((e) => e.fly_app_id !== null), "every event points at a live row");
    assertEquals(
      events.filter((e) => e.event_type === "duplicate_row_archived").map((e) => e.metadata.fly_app_name),
      ["vyx-user-aaaa0004"],
    );
    assertEquals(
      events.filter((e) => e.event_type === "status_migrated").map((e) => e.metadata.legacy_status),
      ["deleting"],
    );

    // The seed's FKs to auth.users are gone; fly_app_name may now be null.
    const [fk] = await db.sql`select count(*)::int as n from pg_constraint where contype = 'f'
      and confrelid = 'auth.users'::regclass and conrelid in ('public.user_fly_apps'::regclass,
      'public.user_fly_app_events'::regclass)`;
    assertEquals(fk.n, 0);

    // The trigger works on the upgraded tables: upgrade reactivates the deleted row, a new pro user gets a
    // row without a name, deleting an auth user keeps the row and events.
    await db.sql`update public.user_subscriptions set tier = 'pro' where user_id = ${users.deleted}`;
    await applyTierChanges(db.sql);
    const [reactivated] = await db.sql`select fly_app_name, status, desired_generation::int as dg
      from public.user_fly_apps where user_id = ${users.deleted}`;
    assertEquals({ ...reactivated }, { fly_app_name: "vyx-user-aaaa0002", status: "pending", dg: 2 });
    const newUser = crypto.randomUUID();
    await db.sql`insert into auth.users (id) values (${newUser})`;
    await db.sql`insert into public.user_subscriptions (user_id, tier) values (${newUser}, 'elite')`;
    await applyTierChanges(db.sql);
    const [created] = await db
      .sql`select fly_app_name, desired_state from public.user_fly_apps where user_id = ${newUser}`;
    assertEquals({ ...created }, { fly_app_name: null, desired_state: "present" });
    await db.sql`delete from auth.users where id = ${users.active}`;
    await applyTierChanges(db.sql);
    const [gone] = await db.sql`select desired_state, desired_generation::int as dg,
      (select count(*)::int from public.user_fly_app_events where user_id = ${users.active}) as events
      from public.user_fly_apps where user_id = ${users.active}`;
    // seed event + deprovision_requested (drained without a kick)
    assertEquals({ ...gone }, { desired_state: "absent", dg: 2, events: 2 });
  } finally {
    await db.drop();
  }
});

Deno.test("migrations apply to an empty database, and running them again changes nothing", async () => {
  const db = await createScratchDatabase({ standIns: true, withoutPgCron: true });
  try {
    await dbPush(db.url);
    assert((await dbPush(db.url)).includes("up to date"), "a second push applies nothing");
    const [tables] = await db.sql`select count(*)::int as n from pg_tables where schemaname = 'public'
      and tablename in ('user_subscriptions', 'fly_plans', 'user_fly_apps', 'user_fly_app_events')`;
    assertEquals(tables.n, 4);
    const user = crypto.randomUUID();
    await db.sql`insert into auth.users (id) values (${user})`;
    await db.sql`insert into public.user_subscriptions (user_id, tier) values (${user}, 'pro')`;

    const snapshot = async () => {
      const [s] = await db.sql`select
        (select jsonb_agg(to_jsonb(a) - 'updated_at') from public.user_fly_apps a) as apps,
        (select count(*)::int from public.user_fly_app_events) as events,
        (select jsonb_agg(to_jsonb(p) - 'created_at' - 'updated_at' order by tier) from public.fly_plans p) as plans,
        (select count(*)::int from pg_policies where schemaname = 'public') as policies,
        (select count(*)::int from pg_trigger where tgname = 'on_user_tier_change') as triggers,
        (select count(*)::int from pg_indexes where schemaname = 'public') as indexes`;
      return s;
    };
    const before = await snapshot();
    for (const migration of await listMigrations(paths.migrations)) {
      await db.sql.begin((tx) =>
        tx.unsafe(Deno.readTextFileSync(`${paths.migrations}/${migration.file}`)).simple()
      );
    }
    assertEquals(await snapshot(), before);
  } finally {
    await db.drop();
  }
});
