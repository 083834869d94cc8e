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

/** Hex digits of a digest shown in tables. */
const SHORT_DIGEST = 8;

/**
 * An image as `tag @ short-digest` (`registry.fly.io/app:v3` + `sha256:1a2b3c4d…` → `v3 @ 1a2b3c4d`): the tag
 * (`@` alone for a reference pinned by digest only), the first hex digits of the digest (`digest`, or the
 * one the reference pins). Without a digest, the tag alone; without an image, `—`.
 * @param {string | null | undefined} image
 * @param {string | null} [digest]
 */
export function shortImage(image, digest) {
  if (!image) return "—";
  const [name, pinned] = String(image).split("@");
  const last = name.split("/").at(-1);
  const tag = last.includes(":") ? last.slice(last.lastIndexOf(":") + 1) : pinned ? "" : "latest";
  const hex = (digest ?? pinned ?? "").replace(/^sha256:/, "").slice(0, SHORT_DIGEST);
  return [tag, hex].filter(Boolean).join(" @ ") || "—";
}

/** The full reference of an image and its digest (for a title): `registry/app:v3 @ sha256:…`. */
export function fullImage(image, digest) {
  if (!image) return "";
  return digest && !String(image).endsWith(digest) ? `${image} @ ${digest}` : String(image);
}
