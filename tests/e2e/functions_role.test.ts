/**
 * The functions reach Postgres as hosted functions do: SUPABASE_DB_URL is the project role `postgres`, which
 * is not a superuser, and they work that way (a state read and a sweep succeed).
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { connect } from "../_support/database.ts";
import { startStack } from "./_support.ts";

Deno.test("the functions' database role (SUPABASE_DB_URL) is postgres, not a superuser, and it is enough", async () => {
  const stack = await startStack();
  try {
    const functionsDbUrl = stack.services.functionEnv.SUPABASE_DB_URL;
    assertEquals(new URL(functionsDbUrl).username, "postgres");
    const asFunctions = connect(functionsDbUrl, 1);
    try {
      const [role] = await asFunctions`select current_user as name, rolsuper, rolbypassrls
        from pg_roles where rolname = current_user`;
      assertEquals({ ...role }, { name: "postgres", rolsuper: false, rolbypassrls: true });
    } finally {
      await asFunctions.end({ timeout: 2 });
    }

    const [user] = await stack.newUsers(1);
    await stack.setTier(user, "pro");
    const provisioned = await stack.call("provision-user-fly-app", { body: { user_id: user }, wait: true });
    assertEquals(provisioned.status, 200, JSON.stringify(provisioned.body));
    const report = await stack.sweep();
    assert(report.observed.checked >= 0);

    // Every session on the database (the functions' pool and the pg_net worker included) is a non-superuser.
    const sessions = await stack.sql<{ usename: string; rolsuper: boolean }[]>`
      select a.usename, r.rolsuper from pg_stat_activity a join pg_roles r on r.rolname = a.usename
      where a.datname = current_database() and a.pid <> pg_backend_pid()`;
    assert(sessions.length > 0, "the functions hold connections after a call");
    assertEquals(sessions.filter((s) => s.rolsuper), []);
  } finally {
    await stack.stop();
  }
});
