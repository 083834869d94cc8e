/**
 * Formatting of figures, money and times for the console's tables and cards.
 *
 * @module
 */

/** `12.5` → `$12.50`; null → `—`. */
export function usd(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  return `$${Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** A count with thousands separators. */
export function count(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString("en-US");
}

/** An ISO time as "3 min ago" (with the exact time as a title elsewhere). */
export function ago(iso) {
  if (!iso) return "—";
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

/** An ISO time as `YYYY-MM-DD HH:MM:SS` UTC. */
export function stamp(iso) {
  return iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) : "—";
}

/** The last path part of an image reference (`registry.fly.io/app:tag` → `app:tag`). */
export function shortImage(image) {
  return image ? String(image).split("/").at(-1) : "—";
}
