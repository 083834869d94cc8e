/**
 * The project's own migration runner: applies `<version>_<name>.sql` files in order, each once and each in its
 * own transaction, recording them in `supabase_migrations.schema_migrations` the way the Supabase CLI does.
 *
 * The project's migrations are applied by the real `supabase db push` (scripts/local/supabase_cli.ts: the
 * local stack, `deno task dev`, `deno task test`, the upgrade test). This runner remains only where the CLI
 * cannot serve: folders other than supabase/migrations (the CLI only pushes its workdir's: tests' fixture
 * folders, tests/local/migrate.test.ts, the cron migration tests; old migrations dumped for a comparison)
 * and tests that migrate a database step by step to check the runner itself. The tests' scratch databases
 * are clones of one template that `supabase db push` migrated (tests/_support/migrated_database.ts). Also
 * {@link applySqlFiles}: the stand-ins, applied by the superuser as the platform's own setup is.
 */
import type { Sql } from "postgres";

const MIGRATION_FILE = /^(\d+)_(.+)\.sql$/;

/** A migration file that failed; names the file and carries the database error. */
export class MigrationError extends Error {
  constructor(readonly file: string, cause: unknown) {
    super(`migration ${file} failed: ${(cause as Error).message ?? cause}`, { cause });
    this.name = "MigrationError";
  }
}

/** What a run of {@link applyMigrations} did. */
export interface MigrationReport {
  applied: string[];
  alreadyApplied: string[];
}

/** Lists migration files of `dir` in version order; ignores files that don't follow `<version>_<name>.sql`. */
export async function listMigrations(
  dir: string,
): Promise<{ version: string; name: string; file: string }[]> {
  const found = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = entry.isFile ? MIGRATION_FILE.exec(entry.name) : null;
    if (match) found.push({ version: match[1], name: match[2], file: entry.name });
  }
  return found.sort((a, b) => a.version.localeCompare(b.version));
}

/** Applies pending migrations; stops at the first failure with a {@link MigrationError}. */
export async function applyMigrations(sql: Sql, dir: string): Promise<MigrationReport> {
  await sql.unsafe(`
    create schema if not exists supabase_migrations;
    create table if not exists supabase_migrations.schema_migrations (
      version text not null primary key,
      statements text[],
      name text
    );`).simple();
  const done = new Set(
    (await sql<{ version: string }[]>`select version from supabase_migrations.schema_migrations`)
      .map((row) => row.version),
  );
  const report: MigrationReport = { applied: [], alreadyApplied: [] };
  for (const migration of await listMigrations(dir)) {
    if (done.has(migration.version)) {
      report.alreadyApplied.push(migration.file);
      continue;
    }
    const text = await Deno.readTextFile(`${dir}/${migration.file}`);
    try {
      await sql.begin(async (tx) => {
        await tx.unsafe(text).simple();
        await tx`insert into supabase_migrations.schema_migrations (version, name, statements)
                 values (${migration.version}, ${migration.name}, ${[text]})`;
      });
    } catch (error) {
      throw new MigrationError(migration.file, error);
    }
    report.applied.push(migration.file);
  }
  return report;
}

/** Runs each stand-in SQL file of `dir` (sorted by name) in one transaction per file. */
export async function applySqlFiles(sql: Sql, dir: string): Promise<void> {
  const files = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".sql")) files.push(entry.name);
  }
  for (const file of files.sort()) {
    const text = await Deno.readTextFile(`${dir}/${file}`);
    try {
      await sql.begin((tx) => tx.unsafe(text).simple());
    } catch (error) {
      throw new MigrationError(file, error);
    }
  }
}
