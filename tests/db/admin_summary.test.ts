/**
 * Regression: `GET /summary` answered 500 "malformed array literal" when it was a pool's first query, because
 * postgres.js sends a JS array as a Postgres array only once it has fetched the array types. A pool that never
 * fetches them (`fetch_types: false`) makes that moment permanent, so the summary must not depend on it.
 */
import postgres from "postgres";
import { assertEquals } from "../_support/assert.ts";
import { createMigratedDatabase } from "../_support/migrated_database.ts";
import { AdminRepository } from "../../supabase/functions/_shared/db/admin.ts";

Deno.test("summary works on a pool that has not fetched the array types", async () => {
  const db = await createMigratedDatabase();
  const sql = postgres(db.url, { max: 1, fetch_types: false, onnotice: () => {} });
  try {
    const summary = await new AdminRepository(sql).summary();
    assertEquals([summary.total, summary.pending, summary.other, summary.deleted], [0, 0, 0, 0]);
  } finally {
    await sql.end({ timeout: 2 });
    await db.drop();
  }
});
