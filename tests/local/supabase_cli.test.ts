/**
 * The real Supabase CLI's `db lint` (plpgsql_check, created by the platform superuser as the dashboard does)
 * fails on a deliberately bad function, a test-only fixture applied to a scratch database. That it passes,
 * and `db advisors --fail-on warn` too, on the migrated schema is what every full `deno task test` checks on
 * its database (the `advisors` and `dblint` stages: only the cluster's `postgres` database has pg_cron, which
 * the doctor's functions read).
 */
import { assert } from "../_support/assert.ts";
import { connect, createScratchDatabase } from "../_support/database.ts";
import { dbLint } from "../../scripts/local/supabase_cli.ts";

/** Compiles (plpgsql only checks syntax on create) but references a column that does not exist. */
const BAD_FUNCTION = `
  create schema lint_fixture;
  create table lint_fixture.t (id integer);
  create function lint_fixture.broken() returns integer language plpgsql as $$
  begin
    return (select t.no_such_column from lint_fixture.t t limit 1);
  end
  $$;`;

Deno.test("supabase db lint fails on a function that references a missing column", async () => {
  const db = await createScratchDatabase({ standIns: true });
  const admin = connect(db.adminUrl, 1);
  try {
    await admin`create extension if not exists plpgsql_check with schema extensions`;
    await db.sql.unsafe(BAD_FUNCTION).simple();
    const result = await dbLint(db.url, ["lint_fixture"]);
    const output = result.stdout + result.stderr;
    assert(result.code !== 0, `lint passed on the bad function:\n${output}`);
    assert(output.includes("no_such_column"), output);
  } finally {
    await admin.end({ timeout: 2 });
    await db.drop();
  }
});
