/** The migration runner applies each file once, in order, in a transaction, and stops at a broken one. */
import { assertEquals, assertRejects } from "../_support/assert.ts";
import { createScratchDatabase } from "../_support/database.ts";
import { applyMigrations, MigrationError } from "../../scripts/local/migrate.ts";

async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "migrations-" });
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(`${dir}/${name}`, text);
  return dir;
}

Deno.test("migrations apply in version order, are recorded, and apply nothing the second time", async () => {
  const db = await createScratchDatabase();
  const dir = await migrationsDir({
    "20260102000000_second.sql": "insert into things values (2);",
    "20260101000000_first.sql": "create table things (n int); insert into things values (1);",
    "README.txt": "not a migration",
  });
  try {
    const first = await applyMigrations(db.sql, dir);
    assertEquals(first.applied, ["20260101000000_first.sql", "20260102000000_second.sql"]);
    const second = await applyMigrations(db.sql, dir);
    assertEquals(second.applied, []);
    assertEquals(second.alreadyApplied.length, 2);
    const rows = await db.sql`select n from things order by n`;
    assertEquals(rows.map((r) => r.n), [1, 2]);
    const recorded = await db
      .sql`select version, name from supabase_migrations.schema_migrations order by version`;
    assertEquals(recorded.map((r) => [r.version, r.name]), [["20260101000000", "first"], [
      "20260102000000",
      "second",
    ]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await db.drop();
  }
});

Deno.test("a broken migration stops the run, names the file, and leaves nothing of itself", async () => {
  const db = await createScratchDatabase();
  const dir = await migrationsDir({
    "20260101000000_ok.sql": "create table a (n int);",
    "20260102000000_broken.sql": "create table b (n int); select * from no_such_table;",
    "20260103000000_after.sql": "create table c (n int);",
  });
  try {
    const error = await assertRejects(
      () => applyMigrations(db.sql, dir),
      MigrationError,
      "20260102000000_broken.sql",
    );
    assertEquals(error.message.includes("no_such_table"), true);
    const tables = await db.sql`select table_name from information_schema.tables
      where table_schema = 'public' order by table_name`;
    assertEquals(tables.map((t) => t.table_name), ["a"]);
    const recorded = await db.sql`select version from supabase_migrations.schema_migrations`;
    assertEquals(recorded.map((r) => r.version), ["20260101000000"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await db.drop();
  }
});
