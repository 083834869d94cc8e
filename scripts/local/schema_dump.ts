/**
 * `deno task schema:dump`: the human-readable final state of the schema, generated into `supabase/schemas/`
 * (one file per schema of ours: `public.sql`, `private.sql`, plus `cron_jobs.sql` with the pg_cron schedules)
 * from a schema-only `pg_dump` of a database migrated from scratch. The output is normalised to be stable
 * across runs and pg_dump builds (version headers and `\restrict` keys dropped), so the committed files change
 * only when the schema does; tests/db/schema_dump.test.ts fails when they are stale.
 */
import postgres from "postgres";
import { startLocalDatabase } from "./database.ts";
import { paths } from "./paths.ts";
import { runOrThrow } from "./process.ts";

/** The schemas whose dump is kept in `supabase/schemas/`. */
export const DUMPED_SCHEMAS = ["public", "private"] as const;

/** Options for {@link dumpSchemas}. */
export interface DumpOptions {
  /** Folder to write the files into (created if missing). */
  outDir: string;
  /** Migrations to apply (default `supabase/migrations`). */
  migrationsDir?: string;
}

/** Drops the lines of a dump that depend on the pg_dump build or on the run, not on the schema. */
export function normaliseDump(dump: string): string {
  const lines = dump.split("\n").filter((line) =>
    !/^-- Dumped (from|by) /.test(line) && !/^\\(un)?restrict /.test(line)
  );
  return lines.join("\n").replace(/\n{3,}/g, "\n\n").trim() + "\n";
}

/** Migrates a throwaway database and writes the normalised dump of each schema into `options.outDir`. */
export async function dumpSchemas(options: DumpOptions): Promise<string[]> {
  await Deno.mkdir(options.outDir, { recursive: true });
  const db = await startLocalDatabase({ migrationsDir: options.migrationsDir, cronLaunchJobs: false });
  try {
    const written = [];
    for (const schema of DUMPED_SCHEMAS) {
      const { stdout } = await runOrThrow(`${db.cluster.tools.binDir}/pg_dump`, [
        "--schema-only",
        `--schema=${schema}`,
        "--dbname",
        db.cluster.adminUrl,
      ]);
      const file = `${options.outDir}/${schema}.sql`;
      await Deno.writeTextFile(file, normaliseDump(stdout));
      written.push(file);
    }
    const admin = postgres(db.cluster.adminUrl, { max: 1, onnotice: () => {} });
    try {
      const jobs = await admin<{ jobname: string; schedule: string; command: string }[]>`
        select jobname, schedule, command from cron.job order by jobname`;
      const text = jobs.map((job) =>
        `-- ${job.jobname}\nselect cron.schedule(${quote(job.jobname)}, ${quote(job.schedule)}, ${
          quote(job.command)
        });\n`
      ).join("\n");
      const file = `${options.outDir}/cron_jobs.sql`;
      await Deno.writeTextFile(file, `-- pg_cron schedules the migrations create (generated).\n\n${text}`);
      written.push(file);
    } finally {
      await admin.end({ timeout: 2 });
    }
    return written;
  } finally {
    await db.stop();
  }
}

function quote(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

if (import.meta.main) {
  const outDir = Deno.args[0] ?? `${paths.root}/supabase/schemas`;
  const migrationsDir = Deno.args[1];
  for (const file of await dumpSchemas({ outDir, migrationsDir })) console.log(`wrote ${file}`);
}
