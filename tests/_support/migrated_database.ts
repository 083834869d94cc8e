/**
 * Helpers for the database tests: isolated scratch databases with the stand-ins and the project's
 * migrations applied, so tests that commit never touch the shared test database's rows or Vault.
 *
 * The migrations run once per cluster and set of files, into a template database named after a hash of the
 * stand-ins and the migrations; each scratch database is then a clone of it (`create database … template`),
 * which takes a fraction of the time of migrating. An advisory lock makes concurrent test processes build
 * it once. How a database gets migrated is {@link migrate}'s business alone.
 */
import { createHash } from "node:crypto";
import { dbPush } from "../../scripts/local/supabase_cli.ts";
import { paths } from "../../scripts/local/paths.ts";
import { connect, createScratchDatabase, localAdminDatabaseUrl, type ScratchDatabase } from "./database.ts";

/**
 * Brings a scratch database that has the stand-ins to the schema of supabase/migrations, as a deployment
 * does: `supabase db push` (once per cluster: every scratch database is a clone of the result).
 */
async function migrate(db: ScratchDatabase): Promise<void> {
  await dbPush(db.url);
}

/** SHA-256 (hex) over the names and contents of the SQL files of `dirs`, in order. */
async function sqlFilesDigest(dirs: string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const dir of dirs) {
    const files = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".sql")) files.push(entry.name);
    }
    for (const file of files.sort()) {
      hash.update(`${dir}/${file}\0${await Deno.readTextFile(`${dir}/${file}`)}\0`);
    }
  }
  return hash.digest("hex");
}

let template: Promise<string> | undefined;

/** Name of the migrated template database, built on first use (once per cluster, across processes). */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const name = `template_migrated_${
      (await sqlFilesDigest([paths.standIns, paths.migrations])).slice(0, 16)
    }`;
    const admin = connect(localAdminDatabaseUrl(), 1);
    try {
      await admin`select pg_advisory_lock(hashtext('tests: migrated template'))`;
      const [existing] = await admin`select 1 from pg_database where datname = ${name}`;
      if (!existing) {
        const db = await createScratchDatabase({ standIns: true, withoutPgCron: true });
        try {
          await migrate(db);
          await db.sql.end({ timeout: 2 });
          await admin.unsafe(`alter database ${db.name} rename to ${name}`);
        } catch (error) {
          await db.drop();
          throw error;
        }
      }
      return name;
    } finally {
      await admin.end({ timeout: 2 });
    }
  })();
  template.catch(() => template = undefined);
  return template;
}

/**
 * A scratch database with the stand-ins and every migration of supabase/migrations applied as `postgres`.
 * It has no pg_cron (pg_cron serves only the cluster's `postgres` database), so it carries the explicit
 * `fly_apps.without_pg_cron` marker and the cron migration schedules nothing there.
 */
export async function createMigratedDatabase(): Promise<ScratchDatabase> {
  return await createScratchDatabase({ template: await migratedTemplate(), withoutPgCron: true });
}

/** Creates auth users with fresh random ids and returns the ids. */
export async function createUsers(db: ScratchDatabase, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  await db.sql`insert into auth.users (id) select unnest(${ids}::uuid[])`;
  return ids;
}
