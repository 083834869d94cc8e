/**
 * The local database: a throwaway cluster set up the way hosted Supabase is, then migrated as hosted.
 * The superuser `supabase_admin` applies the stand-ins (roles, auth, Vault, pg_net), enables pg_cron and
 * plpgsql_check (what the dashboard does, through supautils, when a project enables them) and pgTAP; the
 * project's migrations are then applied by the real `supabase db push` (scripts/local/supabase_cli.ts) as the
 * non-superuser `postgres`. A different migrations folder (the schema dump of old migrations, tests' fixtures)
 * goes through the project's own runner (scripts/local/migrate.ts), which records versions the same way.
 */
import postgres from "postgres";
import { applyMigrations, applySqlFiles, listMigrations, type MigrationReport } from "./migrate.ts";
import { paths } from "./paths.ts";
import { type PostgresCluster, type PostgresOptions, startPostgres } from "./postgres.ts";
import { dbPush } from "./supabase_cli.ts";

/** Options for {@link startLocalDatabase}. */
export interface LocalDatabaseOptions extends PostgresOptions {
  /** Also create pgTAP (in schema `extensions`, like `supabase test db`). */
  withPgTap?: boolean;
  /**
   * Whether pg_cron runs the scheduled jobs (default true). When false (tests, benchmarks, which run job
   * commands themselves), every job is deactivated through `cron.job.active` after the migrations; this works
   * on every pg_cron version (1.4 has no `cron.launch_active_jobs`).
   */
  cronLaunchJobs?: boolean;
  /** The migrations folder (default `supabase/migrations`). */
  migrationsDir?: string;
}

/** A migrated local database. */
export interface LocalDatabase {
  cluster: PostgresCluster;
  migrations: MigrationReport;
  /** Stops and removes the cluster. */
  stop(): Promise<void>;
}

/** Switches every pg_cron job off (they stay scheduled; `cron.job.active` is what pg_cron's launcher reads). */
export async function deactivateCronJobs(adminSql: postgres.Sql): Promise<number> {
  const rows = await adminSql`update cron.job set active = false where active returning jobid`;
  return rows.length;
}

/** Applies the project's migrations with `supabase db push`; reports them like the own runner does. */
async function pushMigrations(url: string): Promise<MigrationReport> {
  const project = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const before = new Set(await appliedVersions(project));
    await dbPush(url);
    const files = await listMigrations(paths.migrations);
    return {
      applied: files.filter((m) => !before.has(m.version)).map((m) => m.file),
      alreadyApplied: files.filter((m) => before.has(m.version)).map((m) => m.file),
    };
  } finally {
    await project.end({ timeout: 2 });
  }
}

async function appliedVersions(sql: postgres.Sql): Promise<string[]> {
  const [table] =
    await sql`select to_regclass('supabase_migrations.schema_migrations') is not null as exists`;
  if (!table.exists) return [];
  return (await sql<{ version: string }[]>`select version from supabase_migrations.schema_migrations`)
    .map((row) => row.version);
}

/** Starts a cluster, applies stand-ins and migrations; removes the cluster if any of it fails. */
export async function startLocalDatabase(options: LocalDatabaseOptions = {}): Promise<LocalDatabase> {
  const cluster = await startPostgres(options);
  const admin = postgres(cluster.adminUrl, { max: 1, onnotice: () => {} });
  const project = postgres(cluster.url, { max: 1, onnotice: () => {} });
  try {
    await applySqlFiles(admin, paths.standIns);
    await admin`create extension if not exists pg_cron with schema pg_catalog`;
    await admin`create extension if not exists plpgsql_check with schema extensions`;
    if (options.withPgTap) await admin`create extension if not exists pgtap with schema extensions`;
    const migrations = options.migrationsDir
      ? await applyMigrations(project, options.migrationsDir)
      : await pushMigrations(cluster.url);
    if (options.cronLaunchJobs === false) await deactivateCronJobs(admin);
    return { cluster, migrations, stop: () => cluster.stop() };
  } catch (error) {
    await cluster.stop();
    throw error;
  } finally {
    await Promise.all([admin.end({ timeout: 2 }), project.end({ timeout: 2 })]);
  }
}
