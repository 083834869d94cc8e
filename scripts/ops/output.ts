/**
 * What the CLI prints: tables (cli-table3, no colours so output can be piped and recorded), key/value
 * blocks, CSV and JSON (`--json`, machine output). All of it goes through an {@link Output}, so tests capture it.
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

/** Rows as a table with `columns`; `empty` when there are none. */
export function table<R>(rows: readonly R[], columns: readonly Column<R>[], empty = "(none)"): string {
  if (rows.length === 0) return empty;
  const rendered = new Table({ head: columns.map((c) => c.header), style: { head: [], border: [] } });
  for (const row of rows) rendered.push(columns.map((c) => cell(c.value(row))));
  return rendered.toString();
}

/** Key/value pairs as a two-column table (null values left out). */
export function details(pairs: Record<string, unknown>): string {
  const rendered = new Table({ style: { head: [], border: [] } });
  for (const [key, value] of Object.entries(pairs)) {
    if (value !== null && value !== undefined) rendered.push({ [key]: cell(value) });
  }
  return rendered.toString();
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

/** One CSV field (RFC 4180 quoting). */
function csvField(value: unknown): string {
  const text = value === null || value === undefined
    ? ""
    : typeof value === "object"
    ? JSON.stringify(value)
    : String(value);
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
