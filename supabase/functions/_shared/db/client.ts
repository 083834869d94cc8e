/**
 * Postgres connection management: one small postgres.js pool per set of connection settings, created on
 * first use and shared by every request of a function instance.
 *
 * `prepare: false` because Supabase's transaction pooler (port 6543) cannot keep prepared statements across
 * transactions; the pool is small because every function instance has its own. The statement timeout is sent
 * as a startup parameter, so the server cancels a runaway statement.
 *
 * @module
 */
import postgres from "postgres";
import type { DbSettings } from "../config.ts";

/** A postgres.js client (tagged-template SQL function with its pool). */
export type Sql = postgres.Sql;

/** `application_name` reported to Postgres, to find our sessions in `pg_stat_activity`. */
const APPLICATION_NAME = "fly-provisioner";

/** Open pools by connection settings. */
const pools = new Map<string, Sql>();

/** The postgres.js options used for `settings` (exported for tests). */
export function sqlOptions(settings: DbSettings): postgres.Options<Record<string, never>> {
  return {
    prepare: false,
    max: settings.poolMax,
    idle_timeout: settings.idleTimeoutS,
    connect_timeout: settings.connectTimeoutS,
    connection: { application_name: APPLICATION_NAME, statement_timeout: settings.statementTimeoutMs },
    onnotice: () => {},
  };
}

/**
 * The shared client for `settings`, created on first call. postgres.js connects lazily, so this never
 * touches the network by itself.
 */
export function getSql(settings: DbSettings): Sql {
  const key = JSON.stringify(settings);
  let sql = pools.get(key);
  if (!sql) {
    sql = postgres(settings.url, sqlOptions(settings));
    pools.set(key, sql);
  }
  return sql;
}

/** Close every pool created by {@link getSql} (waiting up to `timeoutS` seconds for running queries). */
export async function closeSql(timeoutS = 5): Promise<void> {
  const open = [...pools.values()];
  pools.clear();
  await Promise.all(open.map((sql) => sql.end({ timeout: timeoutS })));
}
