/**
 * Database access for deno tests. `deno task test` sets LOCAL_DB_URL to the migrated local database;
 * scratch databases give a test an isolated copy of the stand-ins without the shared state.
 */
import postgres from "postgres";
import { applySqlFiles } from "../../scripts/local/migrate.ts";
import { paths } from "../../scripts/local/paths.ts";

/** Superuser URL of the migrated local database; fails clearly outside `deno task test`. */
export function localDatabaseUrl(): string {
  const url = Deno.env.get("LOCAL_DB_URL");
  if (!url) throw new Error("LOCAL_DB_URL is not set: run the tests with `deno task test`");
  return url;
}

/** A postgres.js client with test-friendly settings. */
export function connect(url: string = localDatabaseUrl(), max = 4): postgres.Sql {
  return postgres(url, { max, onnotice: () => {} });
}

/** An empty database of its own, dropped by `drop()`. */
export interface ScratchDatabase {
  url: string;
  sql: postgres.Sql;
  drop(): Promise<void>;
}

/** Creates a fresh database in the local cluster, optionally with the Supabase stand-ins applied. */
export async function createScratchDatabase(options: { standIns?: boolean } = {}): Promise<ScratchDatabase> {
  const admin = connect(localDatabaseUrl(), 1);
  const name = `scratch_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  await admin.unsafe(`create database ${name}`);
  const url = new URL(localDatabaseUrl());
  url.pathname = `/${name}`;
  const sql = connect(url.href);
  if (options.standIns) await applySqlFiles(sql, paths.standIns);
  return {
    url: url.href,
    sql,
    async drop() {
      await sql.end({ timeout: 2 });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 2 });
    },
  };
}
