/**
 * The local database: a throwaway cluster with the Supabase stand-ins and the project's migrations applied.
 */
import postgres from "postgres";
import { applyMigrations, applySqlFiles, type MigrationReport } from "./migrate.ts";
import { paths } from "./paths.ts";
import { type PostgresCluster, type PostgresOptions, startPostgres } from "./postgres.ts";

/** Options for {@link startLocalDatabase}. */
export interface LocalDatabaseOptions extends PostgresOptions {
  /** Also create pgTAP (in schema `extensions`, like `supabase test db`). */
  withPgTap?: boolean;
}

/** A migrated local database. */
export interface LocalDatabase {
  cluster: PostgresCluster;
  migrations: MigrationReport;
  /** Stops and removes the cluster. */
  stop(): Promise<void>;
}

/** Starts a cluster, applies stand-ins and migrations; removes the cluster if any of it fails. */
export async function startLocalDatabase(options: LocalDatabaseOptions = {}): Promise<LocalDatabase> {
  const cluster = await startPostgres(options);
  const sql = postgres(cluster.url, { max: 1, onnotice: () => {} });
  try {
    await applySqlFiles(sql, paths.standIns);
    if (options.withPgTap) await sql`create extension if not exists pgtap with schema extensions`;
    const migrations = await applyMigrations(sql, paths.migrations);
    return { cluster, migrations, stop: () => cluster.stop() };
  } catch (error) {
    await cluster.stop();
    throw error;
  } finally {
    await sql.end({ timeout: 2 });
  }
}
