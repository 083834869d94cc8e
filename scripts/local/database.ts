/**
 * The local database: a throwaway cluster set up the way hosted Supabase is, then migrated as hosted.
 * The superuser `supabase_admin` applies the stand-ins (roles, auth, Vault, pg_net), enables pg_cron (what
 * the dashboard does, through supautils, when a project enables it) and pgTAP; the project's migrations then
 * run as the non-superuser `postgres`, one transaction per file, like `supabase db push`.
 */
import postgres from "postgres";
import { applyMigrations, applySqlFiles, type MigrationReport } from "./migrate.ts";
import { paths } from "./paths.ts";
import { type PostgresCluster, type PostgresOptions, startPostgres } from "./postgres.ts";

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

/** Starts a cluster, applies stand-ins and migrations; removes the cluster if any of it fails. */
export async function startLocalDatabase(options: LocalDatabaseOptions = {}): Promise<LocalDatabase> {
  const cluster = await startPostgres(options);
  const admin = postgres(cluster.adminUrl, { max: 1, onnotice: () => {} });
  const project = postgres(cluster.url, { max: 1, onnotice: () => {} });
  try {
    await applySqlFiles(admin, paths.standIns);
    await admin`create extension if not exists pg_cron with schema pg_catalog`;
    if (options.withPgTap) await admin`create extension if not exists pgtap with schema extensions`;
    const migrations = await applyMigrations(project, options.migrationsDir ?? paths.migrations);
    if (options.cronLaunchJobs === false) await deactivateCronJobs(admin);
    return { cluster, migrations, stop: () => cluster.stop() };
  } catch (error) {
    await cluster.stop();
    throw error;
  } finally {
    await Promise.all([admin.end({ timeout: 2 }), project.end({ timeout: 2 })]);
  }
}
