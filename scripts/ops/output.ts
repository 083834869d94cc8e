/**
 * What the CLI prints: tables and key/value blocks made for a terminal (cli-table3: no colours, no borders or
 * lines between rows, fitted to the terminal's width with long values ending in `…`; whole with `--wide`),
 * one-line event summaries, CSV and JSON (`--json`, machine output). All of it goes through an {@link Output}, so tests capture it.
 *
 * @module
 */
import Table from "cli-table3";

/** Where text goes: standard output and standard error. */
export interface Output {
  /** Writes one block of text to standard output (a newline is added). */
  out(text: string): void;
  /** Writes one line to standard error. */
  err(text: string): void;
}

/** A table column: the header and how to show a row's value. */
export interface Column<R> {
  header: string;
  value: (row: R) => unknown;
  /** Never shortened (ids an operator copies); the other columns shrink instead. */
  whole?: boolean;
}

/** A value as a table cell: empty for null, ISO timestamps shortened, objects as JSON. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(value)) {
    return value.slice(0, 19).replace("T", " ");
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** How wide text may be: the terminal's columns, or `Infinity` for whole values (`--wide`). */
export interface Layout {
  width: number;
}

/** No borders and no lines between rows: columns separated by two spaces. */
const PLAIN = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "  ",
};

/** The smallest width a column is shrunk to. */
const MIN_COLUMN = 4;

/**
 * Column widths that fit `width`: the widest columns not marked `whole` shrink first (their cells end in
 * `…`), never below their floor (a header is never cut).
 */
export function fitWidths(
  natural: readonly number[],
  width: number,
  options: { whole?: readonly boolean[]; floors?: readonly number[] } = {},
): number[] {
  const { whole = [], floors = [] } = options;
  const widths = [...natural];
  const total = () => widths.reduce((sum, w) => sum + w, 0) + PLAIN.middle.length * (widths.length - 1);
  while (total() > width) {
    const shrinkable = widths.map((w, i) => whole[i] || w <= (floors[i] ?? 0) ? 0 : w);
    const widest = shrinkable.indexOf(Math.max(...shrinkable));
    if (shrinkable[widest] <= MIN_COLUMN) break;
    widths[widest] -= 1;
  }
  return widths;
}

/** Lines of cells under a header (or none), fitted to `layout`. */
function render(head: string[], rows: string[][], layout: Layout, whole: boolean[] = []): string {
  const all = head.length ? [head, ...rows] : rows;
  const natural = all[0].map((_, i) => Math.max(...all.map((row) => [...row[i]].length)));
  const rendered = new Table({
    head,
    chars: PLAIN,
    colWidths: fitWidths(natural, layout.width, {
      whole,
      floors: head.map((h) => Math.max([...h].length, MIN_COLUMN)),
    }),
    wordWrap: false,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  rendered.push(...rows);
  return rendered.toString().split("\n").map((line) => line.trimEnd()).join("\n");
}

/** Rows as a table with `columns`, fitted to `layout`; `empty` when there are none. */
export function table<R>(
  rows: readonly R[],
  columns: readonly Column<R>[],
  options: { layout: Layout; empty?: string },
): string {
  if (rows.length === 0) return options.empty ?? "(none)";
  return render(
    columns.map((c) => c.header),
    rows.map((row) => columns.map((c) => cell(c.value(row)).replace(/\s+/g, " "))),
    options.layout,
    columns.map((c) => Boolean(c.whole)),
  );
}

/** Key/value pairs as two columns fitted to `layout` (null values left out). */
export function details(pairs: Record<string, unknown>, layout: Layout): string {
  const rows = Object.entries(pairs).filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => [key, cell(value).replace(/\s+/g, " ")]);
  return rows.length ? render([], rows, layout) : "(none)";
}

/** The metadata keys that say most about an event, in the order shown. */
const EVENT_KEYS = [
  "actor",
  "reason",
  "from",
  "to",
  "app_name",
  "machine_id",
  "generation",
  "state",
  "outcome",
  "duration_ms",
];

/**
 * An event in one line: its error's first line, then up to three of its telling fields as `key=value` (text
 * with blanks, `=` or quotes JSON-quoted).
 */
export function eventSummary(event: { metadata?: unknown; error_details?: unknown }): string {
  const metadata = (event.metadata ?? {}) as Record<string, unknown>;
  const scalars = Object.entries(metadata).filter(([, v]) => v !== null && typeof v !== "object");
  const ranked = [
    ...EVENT_KEYS.flatMap((key) => scalars.filter(([k]) => k === key)),
    ...scalars.filter(([k]) => !EVENT_KEYS.includes(k)),
  ].slice(0, 3);
  const error = event.error_details ? String(event.error_details).split("\n")[0] : "";
  // Free text (a reason) is quoted when it has blanks or `=`, so it can never read as another field (actor=…).
  const shown = (v: unknown) => typeof v === "string" && /[\s="]/.test(v) ? JSON.stringify(v) : String(v);
  return [error, ...ranked.map(([k, v]) => `${k}=${shown(v)}`)].filter(Boolean).join(" ");
}

/** Nested objects flattened to dotted keys (`reconciled.attempted`), arrays kept as values. */
export function flatten(value: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner && typeof inner === "object" && !Array.isArray(inner)) {
      Object.assign(flat, flatten(inner as Record<string, unknown>, `${prefix}${key}.`));
    } else {
      flat[`${prefix}${key}`] = inner;
    }
  }
  return flat;
}

/** What a spreadsheet reads as the start of a formula (OWASP: CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field (RFC 4180 quoting). Text starting like a formula (`= + - @`, tab, CR) gets a leading `'` so a
 * spreadsheet shows it as text instead of running it; numbers stay numbers.
 */
export function csvField(value: unknown): string {
  const raw = value === null || value === undefined
    ? ""
    : typeof value === "object"
    ? JSON.stringify(value)
    : String(value);
  const text = typeof value !== "number" && typeof value !== "bigint" && FORMULA_START.test(raw)
    ? `'${raw}`
    : raw;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Rows as CSV with a header line of `keys`. */
export function csv(rows: readonly Record<string, unknown>[], keys: readonly string[]): string {
  return [keys.join(","), ...rows.map((row) => keys.map((key) => csvField(row[key])).join(","))].join("\n");
}

/** JSON for `--json`. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
