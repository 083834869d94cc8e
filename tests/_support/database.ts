/**
 * Database access for deno tests. `deno task test` sets LOCAL_DB_URL to the migrated local database as the
 * hosted project role `postgres` (not a superuser, like SUPABASE_DB_URL on hosted Supabase), and
 * LOCAL_ADMIN_DB_URL to the same database as the superuser `supabase_admin`. Tests act as `postgres`; only
 * what needs a superuser (creating and dropping scratch databases, applying the stand-ins) uses the admin URL.
 * Scratch databases give a test an isolated copy of the stand-ins without the shared state; files that run in
 * parallel (scripts/test.ts) may use only those.
 */
import postgres from "postgres";
import { applySqlFiles } from "../../scripts/local/migrate.ts";
import { paths } from "../../scripts/local/paths.ts";

function requiredEnv(name: string): string {
  const url = Deno.env.get(name);
  if (!url) throw new Error(`${name} is not set: run the tests with \`deno task test\``);
  return url;
}

/**
 * URL of the migrated local database as `postgres` (the hosted project role); fails outside `deno task test`,
 * and in its parallel track (TESTS_SHARED_DATABASE=off), where files share the cluster but not this database.
 */
export function localDatabaseUrl(): string {
  if (Deno.env.get("TESTS_SHARED_DATABASE") === "off") {
    throw new Error(
      "this file uses the shared test database: list it in SERIAL_FILES of scripts/test.ts, " +
        "or give it a database of its own (createMigratedDatabase)",
    );
  }
  return requiredEnv("LOCAL_DB_URL");
}

/** URL of the migrated local database as the superuser `supabase_admin`; for platform-side setup only. */
export function localAdminDatabaseUrl(): string {
  return requiredEnv("LOCAL_ADMIN_DB_URL");
}

/** A postgres.js client with test-friendly settings. */
export function connect(url: string = localDatabaseUrl(), max = 4): postgres.Sql {
  return postgres(url, { max, onnotice: () => {} });
}

/** `url` pointing at another database of the same cluster (same role). */
function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.href;
}

/** An empty database of its own, dropped by `drop()`. */
export interface ScratchDatabase {
  /** Database name. */
  name: string;
  /** URL as the project role `postgres` (what the functions and the tests use). */
  url: string;
  /** URL as the superuser `supabase_admin`. */
  adminUrl: string;
  /** Client as `postgres`. */
  sql: postgres.Sql;
  drop(): Promise<void>;
}

/** Options of {@link createScratchDatabase}. */
export interface ScratchDatabaseOptions {
  /** Apply the Supabase stand-ins (as supabase_admin, like the platform). */
  standIns?: boolean;
  /**
   * Mark the database as one without pg_cron (`fly_apps.without_pg_cron = on`), so the cron migration skips
   * its schedules instead of failing: pg_cron serves only the cluster's `postgres` database.
   */
  withoutPgCron?: boolean;
  /**
   * Clone this database of the cluster (`create database … template …`, with its per-database settings,
   * which `create database` does not copy) instead of starting empty; nobody may be connected to it.
   */
  template?: string;
}

/**
 * Creates a fresh database in the local cluster, owned by `postgres` as a hosted project's database is,
 * optionally with the Supabase stand-ins applied or as a clone of a template.
 */
export async function createScratchDatabase(options: ScratchDatabaseOptions = {}): Promise<ScratchDatabase> {
  const name = `scratch_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const url = withDatabase(requiredEnv("LOCAL_DB_URL"), name);
  const adminUrl = withDatabase(localAdminDatabaseUrl(), name);
  const drop = async () => {
    const admin = connect(localAdminDatabaseUrl(), 1);
    try {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
    } finally {
      await admin.end({ timeout: 2 });
    }
  };
  const admin = connect(localAdminDatabaseUrl(), 1);
  try {
    if (options.template) {
      await admin.unsafe(`create database ${name} template ${options.template} owner postgres`);
      // Settings such as the stand-ins' search_path live in a shared catalog, keyed by database.
      await admin`insert into pg_db_role_setting (setdatabase, setrole, setconfig)
        select (select oid from pg_database where datname = ${name}), setrole, setconfig from pg_db_role_setting
        where setdatabase = (select oid from pg_database where datname = ${options.template})`;
    } else {
      await admin.unsafe(`create database ${name} owner postgres`);
    }
    if (options.withoutPgCron) {
      await admin.unsafe(`alter database ${name} set fly_apps.without_pg_cron = on`);
    }
  } finally {
    await admin.end({ timeout: 2 });
  }
  if (options.standIns) {
    // The stand-ins alter cluster-wide roles: files running in parallel apply them one at a time (an
    // advisory lock in the cluster's own database, where every test process takes it).
    const lock = connect(localAdminDatabaseUrl(), 1);
    const setup = connect(adminUrl, 1);
    try {
      await lock`select pg_advisory_lock(hashtext('tests: stand-ins'))`;
      await applySqlFiles(setup, paths.standIns);
    } catch (error) {
      await drop();
      throw error;
    } finally {
      await Promise.all([setup.end({ timeout: 2 }), lock.end({ timeout: 2 })]);
    }
  }
  const sql = connect(url);
  return {
    name,
    url,
    adminUrl,
    sql,
    async drop() {
      await sql.end({ timeout: 2 });
      await drop();
    },
  };
}
