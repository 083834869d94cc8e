/**
 * supabase/schemas/ is the generated final state of the migrations (`deno task schema:dump`): this fails when
 * the committed files are stale, by generating them again into a temp folder and comparing.
 */
import { assertEquals } from "../_support/assert.ts";
import { dumpSchemas } from "../../scripts/local/schema_dump.ts";
import { paths } from "../../scripts/local/paths.ts";

Deno.test("supabase/schemas/ matches a fresh dump of the migrated schema", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "schemas-" });
  try {
    for (const file of await dumpSchemas({ outDir })) {
      const name = file.slice(outDir.length + 1);
      const committed = await Deno.readTextFile(`${paths.root}/supabase/schemas/${name}`).catch(() => "");
      assertEquals(
        committed,
        await Deno.readTextFile(file),
        `supabase/schemas/${name} is stale: run deno task schema:dump`,
      );
    }
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});
