/** The CLI's output helpers: cells, flattened reports, tables without colour codes. */
import { assert, assertEquals } from "../_support/assert.ts";
import { cell, details, flatten, table } from "../../scripts/ops/output.ts";

Deno.test("cells: empty for null, yes/no, short timestamps, JSON for objects", () => {
  assertEquals(
    [null, true, false, "2026-11-30T04:48:31.123Z", { a: 1 }, 3.5].map(cell),
    ["", "yes", "no", "2026-11-30 04:48:31", '{"a":1}', "3.5"],
  );
});

Deno.test("a sweep report flattens to dotted keys; arrays stay values", () => {
  assertEquals(
    flatten({ duration_ms: 28, reconciled: { attempted: 2, converged: 1 }, orphans: { found: ["x"] } }),
    {
      duration_ms: 28,
      "reconciled.attempted": 2,
      "reconciled.converged": 1,
      "orphans.found": ["x"],
    },
  );
  const rendered = details(flatten({ reconciled: { attempted: 2 } }));
  assert(rendered.includes("reconciled.attempted") && rendered.includes("2"), rendered);
});

Deno.test("tables carry no ANSI colour codes (safe to pipe and record); empty says so", () => {
  const rendered = table([{ a: 1 }], [{ header: "a", value: (r) => r.a }]);
  assert(!rendered.includes("\u001b["), JSON.stringify(rendered));
  assertEquals(table([], [{ header: "a", value: () => 1 }], "nothing"), "nothing");
});
