import { assert, assertEquals } from "../_support/assert.ts";
import { closeSql, getSql, sqlOptions } from "../../supabase/functions/_shared/db/client.ts";
import { loadConfig } from "../../supabase/functions/_shared/config.ts";
import { TEST_ENV } from "./_support.ts";

const settings = loadConfig({ ...TEST_ENV }).db;

Deno.test("db client: transaction-pooler-safe options from the configuration", () => {
  const options = sqlOptions({ ...settings, statementTimeoutMs: 1234 });
  assertEquals(options.prepare, false);
  assertEquals([options.max, options.idle_timeout, options.connect_timeout], [3, 20, 10]);
  assertEquals(options.connection?.statement_timeout, 1234);
});

Deno.test("db client: one lazily created pool per settings; closeSql starts over", async () => {
  const first = getSql(settings);
  assert(getSql({ ...settings }) === first, "equal settings share the pool");
  assert(getSql({ ...settings, poolMax: 2 }) !== first, "other settings get their own pool");
  await closeSql();
  assert(getSql(settings) !== first, "a new pool after closeSql");
  await closeSql();
});

Deno.test({
  name: "db client: queries run with the statement timeout (needs LOCAL_DB_URL from deno task test)",
  ignore: !Deno.env.get("LOCAL_DB_URL"),
  fn: async () => {
    const sql = getSql({ ...settings, url: Deno.env.get("LOCAL_DB_URL")!, statementTimeoutMs: 4321 });
    try {
      const [row] = await sql`select current_setting('statement_timeout') as timeout, 1 + 1 as two`;
      assertEquals([row.timeout, row.two], ["4321ms", 2]);
    } finally {
      await closeSql();
    }
  },
});
