/**
 * The CLI's output helpers: cells, flattened reports, tables without colour codes or separator lines that fit
 * the width (long values end in `…`, whole when unlimited), events in one line.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { cell, csv, csvField, details, eventSummary, flatten, table } from "../../scripts/ops/output.ts";

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
  const rendered = details(flatten({ reconciled: { attempted: 2 } }), { width: 100 });
  assert(rendered.includes("reconciled.attempted") && rendered.includes("2"), rendered);
});

Deno.test("tables carry no ANSI colour codes (safe to pipe and record); empty says so", () => {
  const rendered = table([{ a: 1 }], [{ header: "a", value: (r) => r.a }], { layout: { width: 100 } });
  assert(!rendered.includes("\u001b["), JSON.stringify(rendered));
  assertEquals(
    table([], [{ header: "a", value: () => 1 }], { layout: { width: 100 }, empty: "nothing" }),
    "nothing",
  );
});

Deno.test("tables fit the width: long values end in …, no separator lines; unlimited shows them whole", () => {
  const rows = [
    { id: "00000000-0000-4000-8000-000000000001", report: "x".repeat(300) },
    { id: "00000000-0000-4000-8000-000000000002", report: "short" },
  ];
  const columns = [{ header: "user", value: (r: typeof rows[0]) => r.id }, {
    header: "report",
    value: (r: typeof rows[0]) => r.report,
  }];
  const fitted = table(rows, columns, { layout: { width: 60 } }).split("\n");
  assertEquals(fitted.length, 3, "a header and one line per row, nothing between");
  assert(fitted.every((line) => [...line].length <= 60), fitted.join("\n"));
  assert(fitted[1].endsWith("…"), fitted[1]);
  assert(fitted.every((line) => !/[─│┌┐└┘├┤┼]/.test(line)), "no borders");
  const wide = table(rows, columns, { layout: { width: Infinity } }).split("\n");
  assert(wide[1].includes("x".repeat(300)), "whole with --wide");
  const pairs = details({ key: "y".repeat(200) }, { width: 40 });
  assert([...pairs].length <= 40 && pairs.endsWith("…"), pairs);
});

Deno.test("an event is one line: its error's first line and up to three telling fields", () => {
  assertEquals(
    eventSummary({
      metadata: {
        generation: 1,
        app_name: "vyx-user-1",
        extra: { deep: true },
        duration_ms: 236,
        actor: "ops",
      },
      error_details: "boom\nstack",
    }),
    "boom actor=ops app_name=vyx-user-1 generation=1",
  );
  assertEquals(eventSummary({ metadata: {} }), "");
});

Deno.test("an event's reason is data: text that imitates another field is quoted, never read as the actor", () => {
  const line = eventSummary({ metadata: { actor: "claimed:eve", reason: "ok actor=claimed:alice" } });
  assertEquals(line, 'actor=claimed:eve reason="ok actor=claimed:alice"');
});

Deno.test("csv: fields a spreadsheet would run as a formula are escaped; numbers stay numbers", () => {
  const rows = [
    { email: '=HYPERLINK("http://evil","x")', name: "+1", note: "-2+3", who: "@SUM(A1)", cost: -4.5 },
    { email: "\tcmd", name: "plain", note: "a-b", who: "x@y", cost: 0 },
  ];
  const lines = csv(rows, ["email", "name", "note", "who", "cost"]).split("\n");
  assertEquals(lines[1], `"'=HYPERLINK(""http://evil"",""x"")",'+1,'-2+3,'@SUM(A1),-4.5`);
  assertEquals(lines[2], `'\tcmd,plain,a-b,x@y,0`);
  for (const field of ["=1", "+1", "-1", "@1"]) assertEquals(csvField(field), `'${field}`);
  assertEquals(csvField(-1), "-1");
});
