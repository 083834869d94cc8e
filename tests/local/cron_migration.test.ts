/**
 * The pg_cron migration is loud: where pg_cron cannot be enabled it fails with a message saying why the sweep
 * matters and what to do (no NOTICE and a "successful" migration without schedules). Where pg_cron is
 * available it enables it in pg_catalog (Supabase's documented form) and schedules the jobs active. And the
 * test database really has its jobs switched off (pg_cron 1.4 has no cron.launch_active_jobs).
 */
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { connect, createScratchDatabase, localDatabaseUrl } from "../_support/database.ts";
import { applyMigrations, listMigrations, MigrationError } from "../../scripts/local/migrate.ts";
import { paths } from "../../scripts/local/paths.ts";

const CRON_MIGRATION = "20261206000600_cron.sql";

/** A folder with the project's migrations up to and including the cron migration. */
async function migrationsThroughCron(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "migrations-" });
  for (const migration of await listMigrations(paths.migrations)) {
    if (migration.file > CRON_MIGRATION) break;
    await Deno.copyFile(`${paths.migrations}/${migration.file}`, `${dir}/${migration.file}`);
  }
  return dir;
}

Deno.test("cron migration: without pg_cron it fails, saying why and what to do, and leaves nothing", async () => {
  // A database of the cluster other than the one pg_cron serves: `postgres` cannot enable pg_cron there.
  const db = await createScratchDatabase({ standIns: true });
  const dir = await migrationsThroughCron();
  try {
    const error = await assertRejects(() => applyMigrations(db.sql, dir), MigrationError, CRON_MIGRATION);
    assert(error.message.includes("pg_cron is required"), error.message);
    assert(error.message.includes("check-fly-apps-health sweep"), error.message);
    const cause = error.cause as { hint?: string; code?: string };
    assertEquals(cause.code, "55000");
    assert(cause.hint?.includes("Enable pg_cron"), `hint: ${cause.hint}`);

    const [state] = await db.sql`select
      (select count(*)::int from supabase_migrations.schema_migrations
       where version = ${CRON_MIGRATION.split("_")[0]}) as recorded,
      to_regprocedure('private.invoke_health_check(jsonb)') is not null as function_exists`;
    assertEquals({ ...state }, { recorded: 0, function_exists: false });
  } finally {
    await Deno.remove(dir, { recursive: true });
    await db.drop();
  }
});

Deno.test("cron migration: a database marked fly_apps.without_pg_cron migrates, with no schedules", async () => {
  const db = await createScratchDatabase({ standIns: true, withoutPgCron: true });
  const dir = await migrationsThroughCron();
  try {
    const report = await applyMigrations(db.sql, dir);
    assert(report.applied.includes(CRON_MIGRATION));
    const [state] = await db.sql`select
      to_regprocedure('private.invoke_health_check(jsonb)') is not null as function_exists,
      exists (select from pg_extension where extname = 'pg_cron') as pg_cron`;
    assertEquals({ ...state }, { function_exists: true, pg_cron: false });
  } finally {
    await Deno.remove(dir, { recursive: true });
    await db.drop();
  }
});

Deno.test("cron migration: with pg_cron, it lives in pg_catalog and the jobs are scheduled active", async () => {
  const sql = connect(localDatabaseUrl(), 1);
  try {
    const [extension] = await sql`select extnamespace::regnamespace::text as schema from pg_extension
      where extname = 'pg_cron'`;
    assertEquals(extension?.schema, "pg_catalog");
    const text = await Deno.readTextFile(`${paths.migrations}/${CRON_MIGRATION}`);
    // Remove the jobs and run the migration again as postgres (it is re-runnable; cron.schedule keeps an
    // existing job's `active`), look inside the transaction, then roll back: the test database keeps its
    // jobs switched off.
    const rollback = new Error("rollback");
    let jobs: { jobname: string; active: boolean; username: string }[] = [];
    await sql.begin(async (tx) => {
      await tx`select cron.unschedule(jobid) from cron.job`;
      await tx.unsafe(text).simple();
      jobs = await tx`select jobname, active, username from cron.job order by jobname`;
      throw rollback;
    }).catch((error) => {
      if (error !== rollback) throw error;
    });
    assertEquals(
      jobs.map((j) => ({ ...j })),
      [
        { jobname: "check-fly-apps-health", active: true, username: "postgres" },
        { jobname: "drain-tier-outbox", active: true, username: "postgres" },
        { jobname: "purge-cron-job-run-details", active: true, username: "postgres" },
      ],
    );
  } finally {
    await sql.end({ timeout: 2 });
  }
});

Deno.test("the test database has its pg_cron jobs switched off (cron.job.active), on pg_cron 1.4 too", async () => {
  const sql = connect(localDatabaseUrl(), 1);
  try {
    const jobs = await sql<{ jobname: string; active: boolean }[]>`
      select jobname, active from cron.job order by jobname`;
    assert(jobs.length >= 2, `jobs: ${JSON.stringify(jobs)}`);
    assertEquals(jobs.filter((job) => job.active), []);
  } finally {
    await sql.end({ timeout: 2 });
  }
});
