/**
 * Request shapes (zod) of the `fly-apps-admin` routes: path parameters, queries and bodies. Queries and bodies
 * are strict: a field they do not know is refused by name rather than ignored, and a number out of range is
 * refused rather than replaced by a default. A failure becomes 400 `invalid_request` naming the field (see
 * `../http/validate.ts`).
 *
 * @module
 */
import { z } from "zod";
import { APP_SORT_KEYS, type AppSortKey } from "../db/admin.ts";
import { APP_STATUSES, CPU_KINDS, IDLE_ACTIONS, RETRYABLE_STATUSES } from "../vocabulary.ts";
import { IMAGE_REFERENCE_PATTERN } from "../image_ref.ts";

/** Message for a missing value, or `otherwise` for a value of the wrong kind. */
const requiredOr = (otherwise: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? "is required" : otherwise;

/** A user id (any UUID Postgres accepts). */
export const userIdParam = z.object({ user_id: z.guid({ error: requiredOr("must be a UUID") }) });

/** A Fly app name (path parameter of the orphan routes). */
export const appNameParam = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be a Fly app name (lowercase, digits, dashes)"),
});

/** An optional query integer from `min` to `max`, with a default. */
const queryInt = (fallback: number, min: number, max: number) =>
  z.coerce.number({ error: "must be a number" }).int("must be an integer")
    .min(min, `must be at least ${min}`).max(max, `must be at most ${max}`).default(fallback);

/** An optional `true`/`false` query value. */
const queryBool = () =>
  z.enum(["true", "false"], { error: "must be true or false" }).transform((value) => value === "true")
    .optional();

/** An optional short text filter. */
const text = (max = 200) =>
  z.string().min(1, "must not be empty").max(max, `must be at most ${max} characters`);

/** An opaque paging cursor: base64url of `{value, id}` as returned by the previous page. */
const cursor = z.string().max(500, "is not a cursor from this API").transform((value, ctx) => {
  try {
    const decoded = JSON.parse(atob(value.replace(/-/g, "+").replace(/_/g, "/")));
    const parsed = z.object({ value: z.string(), id: z.guid() }).parse(decoded);
    return parsed;
  } catch {
    ctx.addIssue({ code: "custom", message: "is not a cursor from this API" });
    return z.NEVER;
  }
});

/** A timestamp as Postgres prints `timestamptz::text` (or ISO 8601). */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)?$/;

/** Whether `value` is a timestamp Postgres accepts: the shape, and a real day and time of day. */
function isTimestamp(value: string): boolean {
  const match = TIMESTAMP.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  return year >= 1 && date.getUTCMonth() === month - 1 && date.getUTCDate() === day && hour < 24 &&
    minute < 60 && second < 60;
}

/** Whether a cursor value casts to each sort type of {@link APP_SORT_KEYS}. */
const CURSOR_VALUE: Record<(typeof APP_SORT_KEYS)[AppSortKey]["cast"], (value: string) => boolean> = {
  timestamptz: isTimestamp,
  text: () => true,
  integer: (value) => /^-?\d{1,9}$/.test(value),
  numeric: (value) => /^-?\d{1,20}(\.\d{1,10})?$/.test(value),
};

/** Encodes the cursor that continues after `row` sorted by its `sort_value`. */
export function encodeCursor(row: { id: unknown; sort_value: unknown }): string {
  return btoa(JSON.stringify({ value: String(row.sort_value), id: String(row.id) }))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** GET /apps query. */
export const appListQuery = z.strictObject({
  status: z.enum(APP_STATUSES, { error: `must be one of ${APP_STATUSES.join(", ")}` }).optional(),
  health: text(40).optional(),
  tier: text(40).optional(),
  region: z.string().regex(/^[a-z]{3}$/, "must be a three-letter Fly region code").optional(),
  image: text(300).optional(),
  drift: queryBool(),
  in_sync: queryBool(),
  held: queryBool(),
  overridden: queryBool(),
  q: text().optional(),
  sort: z.enum(Object.keys(APP_SORT_KEYS) as [AppSortKey, ...AppSortKey[]], {
    error: `must be one of ${Object.keys(APP_SORT_KEYS).join(", ")}`,
  }).default("updated_at"),
  order: z.enum(["asc", "desc"], { error: "must be asc or desc" }).default("desc"),
  limit: queryInt(50, 1, 500),
  cursor: cursor.optional(),
}).superRefine((query, ctx) => {
  // A cursor is only valid for the sort it came from: its value must cast to that sort's type (a value that
  // does not would reach the database as a failing cast, a 500).
  if (query.cursor && !CURSOR_VALUE[APP_SORT_KEYS[query.sort].cast](query.cursor.value)) {
    ctx.addIssue({
      code: "custom",
      path: ["cursor"],
      message: "is not a cursor from this API for this sort",
    });
  }
});

/** GET /apps/:user_id query: `live=true` adds the machine as Fly reports it now. */
export const appDetailQuery = z.strictObject({ live: queryBool() });

/** GET /apps/:user_id/events query. */
export const userEventsQuery = z.strictObject({
  limit: queryInt(50, 1, 1000),
  before: z.coerce.number({ error: "must be a number" }).int("must be an integer").positive(
    "must be positive",
  ).max(Number.MAX_SAFE_INTEGER, "is not an event position from this API")
    .optional(),
});

/** GET /events query: fleet-wide events, optionally of some types (comma-separated) and one status. */
export const fleetEventsQuery = userEventsQuery.extend({
  type: z.string().regex(/^[a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*$/, "must be event types separated by commas")
    .transform((value) => value.split(",")).optional(),
  status: z.enum(["info", "ok", "warning", "error"], { error: "must be one of info, ok, warning, error" })
    .optional(),
});

/** GET /sweep-runs query. */
export const sweepRunsQuery = z.strictObject({ limit: queryInt(10, 1, 200) });

/** GET /usage query: the month, `YYYY-MM` (default: the current UTC month). */
export const usageQuery = z.strictObject({
  month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "must be a month as YYYY-MM").optional(),
});

/** A JSON object body of exactly these fields. */
export const object = <S extends z.core.$ZodLooseShape>(shape: S) =>
  z.strictObject(shape, { error: "must be a JSON object" });

/** Optional free-text reason recorded with the event. */
export const reason = z.string({ error: "must be a string" }).max(500, "must be at most 500 characters")
  .optional();

/** Body of the per-user actions (retry, release, restart). */
export const actionBody = object({ reason });

/** POST /apps/:user_id/restore body: a snapshot (default: the newest within its retention) or a revert. */
export const restoreBody = object({
  snapshot_id: z.string({ error: "must be a string" }).regex(/^[A-Za-z0-9_-]{1,64}$/, "must be a snapshot id")
    .optional(),
  revert: z.boolean({ error: "must be true or false" }).default(false),
  keep_days: z.int({ error: "must be an integer" }).min(1, "must be at least 1").max(60, "must be at most 60")
    .default(7),
  reason,
}).refine((body) => !(body.revert && body.snapshot_id), {
  error: "a revert goes back to the kept volume: give no snapshot_id",
  path: ["snapshot_id"],
});

/** POST /apps/:user_id/hold body: `replace` takes over a hold another operator set (recorded in the event). */
export const holdBody = object({
  reason,
  replace: z.boolean({ error: "must be true or false" }).default(false),
});

/** POST /retry body: every row with one of `statuses` (e.g. `["error"]`), at most `limit`. */
export const bulkRetryBody = object({
  statuses: z.array(
    z.enum(RETRYABLE_STATUSES, { error: `must be one of ${RETRYABLE_STATUSES.join(", ")}` }),
    { error: "must be an array of statuses" },
  ).min(1, "must name at least one status"),
  limit: z.int({ error: "must be an integer" }).min(1, "must be at least 1").max(
    10_000,
    "must be at most 10000",
  )
    .default(1_000),
  reason,
});

/** PUT /prices/:item body. */
export const priceBody = object({
  monthly_usd: z.number({ error: "must be a number" }).min(0, "must be at least 0").max(
    100_000,
    "is too large",
  ),
  source: z.string({ error: "must be a string" }).min(1, "must not be empty").max(300).optional(),
});

/** The items of `public.fly_prices` (its check constraint names the same). */
const PRICE_ITEMS = [
  "cpu_shared",
  "cpu_performance",
  "memory_gb",
  "ipv4_dedicated",
  "volume_gb",
  "rootfs_gb",
  "snapshot_gb",
] as const;

/** The price items (path parameter of PUT /prices/:item). */
export const priceItemParam = z.object({
  item: z.enum(PRICE_ITEMS, { error: `must be one of ${PRICE_ITEMS.join(", ")}` }),
});

/** PUT /plans/:tier/idle-action body: what Fly's proxy does with the plan's idle machines. */
export const idleActionBody = object({
  idle_action: z.enum(IDLE_ACTIONS, { error: `must be one of ${IDLE_ACTIONS.join(", ")}` }),
  reason,
});

/** A plan's tier (path parameter of the plan routes). */
export const tierParam = z.object({
  tier: z.string().min(1, "must not be empty").max(64, "is too long"),
});

/** POST /migrate body: how many paid users without an app get a due row now. */
export const migrateBody = object({
  batch: z.int({ error: "must be an integer" }).min(1, "must be at least 1").max(
    1_000,
    "must be at most 1000",
  )
    .default(20),
});

/** A machine size as Fly checks it. */
export interface GuestSize {
  cpu_kind: "shared" | "performance";
  cpus: number;
  memory_mb: number;
}

/**
 * Why Fly would refuse `size` (null: it would accept it): CPUs 1, 2, 4, 8 or 16; shared 256..2048 MB per CPU
 * in steps of 256, performance 2048..8192 MB per CPU in steps of 1024. A plan or an override is checked
 * against this before anything is written.
 */
export function guestProblem(size: GuestSize): string | null {
  const { cpu_kind, cpus, memory_mb } = size;
  if (![1, 2, 4, 8, 16].includes(cpus)) return `cpus must be 1, 2, 4, 8 or 16 (got ${cpus})`;
  const [min, max, step] = cpu_kind === "shared"
    ? [256 * cpus, 2048 * cpus, 256]
    : [2048 * cpus, 8192 * cpus, 1024];
  if (memory_mb < min || memory_mb > max || memory_mb % step !== 0) {
    return `${cpus} ${cpu_kind} CPU(s) take ${min}..${max} MB of memory in steps of ${step} (got ${memory_mb})`;
  }
  return null;
}

/** PUT /apps/:user_id/override body: at least one of size, region and image, and why. */
export const overrideBody = object({
  cpu_kind: z.enum(CPU_KINDS, { error: "must be shared or performance" }).optional(),
  cpus: z.int({ error: "must be an integer" }).refine(
    (n) => [1, 2, 4, 8, 16].includes(n),
    "must be 1, 2, 4, 8 or 16",
  )
    .optional(),
  memory_mb: z.int({ error: "must be an integer" }).min(256, "must be at least 256").max(
    131_072,
    "must be at most 131072",
  )
    .optional(),
  region: z.string({ error: "must be a string" }).regex(/^[a-z]{3}$/, "must be a Fly region code").optional(),
  image: z.string({ error: "must be a string" }).regex(
    IMAGE_REFERENCE_PATTERN,
    "must be an image reference (registry/name:tag or name@sha256:...)",
  ).optional(),
  reason,
}).refine(
  (body) =>
    ["cpu_kind", "cpus", "memory_mb", "region", "image"].some((k) =>
      body[k as keyof typeof body] !== undefined
    ),
  "must set at least one of cpu_kind, cpus, memory_mb, region, image (or clear the override with DELETE)",
);
