/**
 * Helpers for the database tests: isolated scratch databases with the stand-ins and the project's
 * migrations applied, so tests that commit never touch the shared test database's rows or Vault.
 */
import { createScratchDatabase, type ScratchDatabase } from "./database.ts";
import { applyMigrations } from "../../scripts/local/migrate.ts";
import { paths } from "../../scripts/local/paths.ts";

/**
 * A scratch database with the stand-ins and every migration of supabase/migrations applied as `postgres`.
 * It has no pg_cron (pg_cron serves only the cluster's `postgres` database), so it carries the explicit
 * `fly_apps.without_pg_cron` marker and the cron migration schedules nothing there.
 */
export async function createMigratedDatabase(): Promise<ScratchDatabase> {
  const db = await createScratchDatabase({ standIns: true, withoutPgCron: true });
  try {
    await applyMigrations(db.sql, paths.migrations);
  } catch (error) {
    await db.drop();
    throw error;
  }
  return db;
}

/** Creates auth users with fresh random ids and returns the ids. */
export async function createUsers(db: ScratchDatabase, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  await db.sql`insert into auth.users (id) select unnest(${ids}::uuid[])`;
  return ids;
}
