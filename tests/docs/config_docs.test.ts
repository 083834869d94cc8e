/**
 * The docs' facts about configuration and functions are checked against the code: every variable
 * `supabase/functions/_shared/config.ts` parses (`CONFIG_VARIABLE_NAMES`) has a line in `.env.example`
 * (`NAME=` or commented `# NAME=`; not the SUPABASE_ names Supabase injects) and a row in the configuration table of docs/local-platform.md; every
 * function folder under supabase/functions/ is deployed by the Deploy block of docs/local-platform.md (the
 * Layout of docs/architecture.md names each one: tests/docs/layout.test.ts).
 */
import { join } from "node:path";
import { assertEquals } from "../_support/assert.ts";
import { CONFIG_VARIABLE_NAMES } from "../../supabase/functions/_shared/config.ts";
import { codeBlockUnder, repoRoot, section } from "./_markdown.ts";

const localPlatform = () => Deno.readTextFile(join(repoRoot, "docs/local-platform.md"));

Deno.test("every variable config.ts parses is in .env.example and in the configuration table", async () => {
  const example = await Deno.readTextFile(join(repoRoot, ".env.example"));
  const inExample = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
  const table = section(await localPlatform(), "Configuration").split("\n").filter((line) =>
    line.startsWith("|")
  );
  const inTable = new Set(
    table.flatMap((row) => [...row.split("|")[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1])),
  );
  // Supabase injects the SUPABASE_ names; the env file cannot set them (.env.example says so).
  const settable = CONFIG_VARIABLE_NAMES.filter((name) => !name.startsWith("SUPABASE_"));
  assertEquals(settable.filter((name) => !inExample.has(name)), [], "missing from .env.example");
  assertEquals(CONFIG_VARIABLE_NAMES.filter((name) => !inTable.has(name)), [], "missing from the table");
});

Deno.test("every function folder is deployed by the Deploy block", async () => {
  const functions: string[] = [];
  for await (const entry of Deno.readDir(join(repoRoot, "supabase/functions"))) {
    if (entry.isDirectory && !entry.name.startsWith("_")) functions.push(entry.name);
  }
  const deploy = codeBlockUnder(await localPlatform(), "Deploy to a Supabase project");
  const deployed = deploy.flatMap((line) => /^supabase functions deploy (\S+)/.exec(line.trim())?.[1] ?? []);
  assertEquals(
    functions.filter((name) => !deployed.includes(name)).sort(),
    [],
    "missing from the deploy list",
  );
  assertEquals(deployed.filter((name) => !functions.includes(name)), [], "deployed but no such folder");
});
