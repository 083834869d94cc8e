/**
 * The functions' request shapes (zod), per function: the POST body and the GET query. Every POST also takes
 * `?wait=true|false` (synchronous for ops, asynchronous by default).
 *
 * Unknown body fields are ignored, so a caller sending extra context (e.g. the trigger) is not rejected.
 *
 * @module
 */
import { z } from "zod";

/** Message for a missing value, or `otherwise` for a value of the wrong kind. */
const requiredOr = (otherwise: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? "is required" : otherwise;

/** A user id: any UUID Postgres accepts (8-4-4-4-12 hex). */
const userId = z.guid({ error: requiredOr("must be a UUID") });

/** A JSON object (the root of every body). */
const object = <S extends z.core.$ZodLooseShape>(shape: S) =>
  z.object(shape, { error: "must be a JSON object" });

/** Optional integer of at least `min` (and at most `max`, when given), with messages naming the rule. */
const count = (min: number, max?: number) => {
  const rule = max === undefined ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
  const atLeast = z.int({ error: `must be ${rule}` }).min(min, `must be at least ${min}`);
  return (max === undefined ? atLeast : atLeast.max(max, `must be at most ${max}`)).optional();
};

/**
 * True when Postgres can store `text` in a `text` or `jsonb` column: no NUL character (text rejects it,
 * jsonb rejects `\u0000`) and no unpaired UTF-16 surrogate (not valid Unicode, so not valid UTF-8 or jsonb).
 */
export function isStorableText(text: string): boolean {
  return !text.includes("\u0000") && text.isWellFormed();
}

/** A string of at most `max` characters that Postgres can store (see {@link isStorableText}). */
const storableText = (max: number) =>
  z.string({ error: "must be a string" }).max(max, `must be at most ${max} characters`).refine(
    isStorableText,
    "must not contain a NUL character or an unpaired surrogate (Postgres cannot store them)",
  );

/** Optional free-text reason recorded with the events. */
const reason = storableText(500).optional();

/** POST body of provision and deprovision: the user, optionally the desired generation that caused the call. */
export const userBody = object({
  user_id: userId,
  generation: count(0),
  reason,
});

/** POST body of a batch: many users at once (the tier-outbox drainer's one kick per batch). */
export const usersBody = object({
  user_ids: z.array(userId, { error: "must be an array of UUIDs" })
    .min(1, "must name at least 1 user")
    .max(1_000, "must name at most 1000 users")
    .refine(
      (ids) => new Set(ids.map((id) => id.toLowerCase())).size === ids.length,
      "must not repeat a user",
    ),
  reason,
});

/** Whether a request body (raw or validated) names `user_ids`, i.e. is meant as the batch form. */
function namesUserIds(value: unknown): boolean {
  return typeof value === "object" && value !== null && "user_ids" in value;
}

/** Whether a validated provision body is the batch form. */
export function isUsersBody(body: unknown): body is z.output<typeof usersBody> {
  return namesUserIds(body);
}

/**
 * POST /provision-user-fly-app body: `{user_id, generation?, reason?}` or `{user_ids: [...], reason?}`. The
 * form is chosen by the presence of `user_ids`, so errors name the field of the form the caller meant.
 */
export const provisionBody = z.unknown().transform((value, ctx) => {
  const result = namesUserIds(value) ? usersBody.safeParse(value) : userBody.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  }
  return z.NEVER;
});

/** POST /check-fly-apps-health body. */
export const healthBody = object({
  limit: count(1, 1_000),
  budget_ms: count(1_000, 390_000),
  detail_limit: count(0, 1_000),
});

/** GET query of the per-user functions: whose state to show. */
export const userStatusQuery = z.object({ user_id: userId });

/** GET query of the health function: none. */
export const noQuery = z.object({});

/** Query of every POST: `wait=true` answers with the final state instead of 202. */
export const waitQuery = z.object({
  wait: z.stringbool({ error: "must be true or false" }).default(false),
});

/** Request shapes of each function, by function name. */
export const FUNCTION_SCHEMAS = {
  "provision-user-fly-app": { body: provisionBody, query: userStatusQuery },
  "deprovision-user-fly-app": { body: userBody, query: userStatusQuery },
  "check-fly-apps-health": { body: healthBody, query: noQuery },
} as const;

/** Name of one of the three functions. */
export type FunctionName = keyof typeof FUNCTION_SCHEMAS;

/** Validated POST body of function `N`. */
export type BodyOf<N extends FunctionName> = z.output<(typeof FUNCTION_SCHEMAS)[N]["body"]>;

/** Validated GET query of function `N`. */
export type QueryOf<N extends FunctionName> = z.output<(typeof FUNCTION_SCHEMAS)[N]["query"]>;
