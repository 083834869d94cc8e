/**
 * The architecture's import rules hold over the real tree (the same check as `deno task check:layout`), and
 * the check itself catches what it is for: a room importing one above it, and an import cycle.
 */
import { assertEquals } from "../_support/assert.ts";
import {
  CHECKED_DIRS,
  importCycles,
  type ImportGraph,
  readImportGraph,
  relativeImports,
  ruleViolations,
} from "../../scripts/layout/imports.ts";
import { paths } from "../../scripts/local/paths.ts";

const shared = (path: string) => `supabase/functions/_shared/${path}`;

Deno.test("layout: the tree has no import cycle and every room imports only the rooms below it", async () => {
  const graph = await readImportGraph(paths.root, CHECKED_DIRS);
  assertEquals(graph.has(shared("engine/reconcile.ts")), true, "the engine was read");
  assertEquals(ruleViolations(graph), []);
  assertEquals(importCycles(graph), []);
});

Deno.test("layout: the engine importing the sweep, the controller or a rollout is a violation", () => {
  const graph: ImportGraph = new Map([
    [shared("engine/machine_spec.ts"), [shared("rollout/driver.ts"), shared("image_ref.ts")]],
    [shared("engine/observe.ts"), [shared("sweep/sweep.ts")]],
    [shared("engine/reconcile.ts"), [shared("controller/controller.ts"), shared("fly/mod.ts")]],
    [shared("sweep/sweep.ts"), [shared("engine/observe.ts"), shared("rollout/driver.ts")]],
  ]);
  const violations = ruleViolations(graph);
  assertEquals(violations.length, 3, violations.join("\n"));
  assertEquals(violations.every((v) => v.startsWith(shared("engine/"))), true);
});

Deno.test("layout: a cycle through three modules is found, a diamond is not a cycle", () => {
  const graph: ImportGraph = new Map([
    ["a.ts", ["b.ts", "c.ts"]],
    ["b.ts", ["d.ts"]],
    ["c.ts", ["d.ts"]],
    ["d.ts", []],
    ["x.ts", ["y.ts"]],
    ["y.ts", ["z.ts"]],
    ["z.ts", ["x.ts"]],
  ]);
  assertEquals(importCycles(graph), [["x.ts", "y.ts", "z.ts"]]);
});

Deno.test("layout: static, type-only, re-export and dynamic imports are all read", () => {
  const source = [
    'import { a } from "./a.ts";',
    'import type { B } from "../b.ts";',
    'export { c } from "./c.ts";',
    "import {\n  d,\n  e,\n} from './d.ts';",
    'const f = await import("./f.ts");',
    'import { z } from "zod";',
  ].join("\n");
  assertEquals(relativeImports(source).sort(), ["../b.ts", "./a.ts", "./c.ts", "./d.ts", "./f.ts"]);
});
