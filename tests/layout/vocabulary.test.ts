/**
 * Each vocabulary is written once (`_shared/vocabulary.ts`): the database's check constraints hold the same
 * lists, and the console takes its lists from the module instead of writing its own.
 */
import { assertEquals } from "../_support/assert.ts";
import type postgres from "postgres";
import { createMigratedDatabase } from "../_support/migrated_database.ts";
import { paths } from "../../scripts/local/paths.ts";
import {
  APP_STATUSES,
  CPU_KINDS,
  DESIRED_STATES,
  HEALTH_VALUES,
  IDLE_ACTIONS,
  ROLLOUT_DIRECTIONS,
  ROLLOUT_STATES,
  ROLLOUT_TARGET_STATES,
} from "../../supabase/functions/_shared/vocabulary.ts";

/** The values a `column in (...)` / `= any (array[...])` check constraint on `table.column` allows. */
async function allowedValues(sql: postgres.Sql, table: string, column: string): Promise<string[]> {
  const rows = await sql<{ def: string }[]>`
      select pg_get_constraintdef(c.oid) as def
      from pg_constraint c
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)
      where c.conrelid = ${`public.${table}`}::regclass and c.contype = 'c' and a.attname = ${column}
        and cardinality(c.conkey) = 1`;
  const lists = rows.map((r) => [...r.def.matchAll(/'([a-z_]+)'::text/g)].map((m) => m[1]))
    .filter((list) => list.length > 0);
  assertEquals(lists.length, 1, `one list constraint on ${table}.${column}: ${rows.map((r) => r.def)}`);
  return lists[0];
}

Deno.test("vocabulary: the SQL check constraints allow exactly the module's lists", async () => {
  const cases: [string, string, readonly string[]][] = [
    ["user_fly_apps", "status", APP_STATUSES],
    ["user_fly_apps", "desired_state", DESIRED_STATES],
    ["user_fly_apps", "health_status", HEALTH_VALUES],
    ["fly_plans", "cpu_kind", CPU_KINDS],
    ["fly_plans", "idle_action", IDLE_ACTIONS],
    ["fly_rollouts", "state", ROLLOUT_STATES],
    ["fly_rollouts", "direction", ROLLOUT_DIRECTIONS],
    ["fly_rollout_targets", "state", ROLLOUT_TARGET_STATES],
  ];
  const db = await createMigratedDatabase();
  try {
    for (const [table, column, expected] of cases) {
      const allowed = await allowedValues(db.sql, table, column);
      assertEquals(allowed.sort(), [...expected].sort(), `${table}.${column}`);
    }
  } finally {
    await db.drop();
  }
});

Deno.test("vocabulary: the console imports its lists and writes none of them again", async () => {
  const vocabularies: Record<string, readonly string[]> = {
    APP_STATUSES,
    HEALTH_VALUES,
    ROLLOUT_TARGET_STATES,
  };
  const written: string[] = [];
  let importers = 0;
  for await (const entry of Deno.readDir(`${paths.root}/console/src`)) {
    if (!entry.name.endsWith(".js")) continue;
    const source = await Deno.readTextFile(`${paths.root}/console/src/${entry.name}`);
    if (source.includes("_shared/vocabulary.ts")) importers++;
    // A list of its own: an array literal naming three or more members of one vocabulary.
    for (const [array] of source.matchAll(/\[[^\[\]]*\]/g)) {
      for (const [name, values] of Object.entries(vocabularies)) {
        const named = values.filter((value) => array.includes(`"${value}"`));
        if (named.length >= 3) written.push(`${entry.name}: ${name} ${named.join(",")}`);
      }
    }
  }
  assertEquals(written, [], "vocabulary lists written in the console instead of imported");
  assertEquals(importers >= 2, true, "the apps and rollouts views import the vocabulary");
});
