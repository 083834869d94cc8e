/** The patch whitelist is ONE list: the SQL function and the zod schema name the same columns. */
import { assertEquals } from "../_support/assert.ts";
import { connect } from "../_support/database.ts";
import { UserFlyAppPatchSchema } from "../../supabase/functions/_shared/db/user_fly_apps.ts";

Deno.test("patch columns: private.user_fly_app_patch_columns() equals the zod patch schema's keys", async () => {
  const sql = connect();
  try {
    const [{ columns }] = await sql<{ columns: string[] }[]>`
      select private.user_fly_app_patch_columns() as columns`;
    assertEquals([...columns].sort(), Object.keys(UserFlyAppPatchSchema.shape).sort());
    const [{ missing }] = await sql<{ missing: string[] | null }[]>`
      select array_agg(c) as missing from unnest(private.user_fly_app_patch_columns()) c
      where not exists (select 1 from information_schema.columns
                        where table_schema = 'public' and table_name = 'user_fly_apps' and column_name = c)`;
    assertEquals(missing, null, "every whitelisted column exists");
  } finally {
    await sql.end();
  }
});
