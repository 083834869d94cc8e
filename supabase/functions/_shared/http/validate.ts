/**
 * Request validation with zod: a failure becomes 400 `invalid_request` naming the field at fault.
 *
 * @module
 */
import type { Context } from "hono";
import type { z } from "zod";
import type { AppEnv } from "./env.ts";
import { HttpError } from "./errors.ts";

/** The 400 error for the first issue of a failed parse; `root` names the field when the issue has no path. */
export function invalidRequest(error: z.ZodError, root: string): HttpError {
  const issue = error.issues[0];
  const field = issue?.path.length ? issue.path.map(String).join(".") : root;
  return new HttpError(400, "invalid_request", `${field} ${issue?.message ?? "is invalid"}`, { field });
}

/**
 * The request body parsed as JSON and validated by `schema`. An empty body counts as `{}`; the Content-Type
 * is not consulted (curl's `-d` sends a form type). Invalid JSON → 400 with field `body`.
 */
export async function readJsonBody<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.output<S>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text);
    } catch {
      throw new HttpError(400, "invalid_request", "body must be valid JSON", { field: "body" });
    }
  }
  const result = schema.safeParse(value);
  if (!result.success) throw invalidRequest(result.error, "body");
  return result.data;
}

/** The query string parameters (last value wins) validated by `schema`. */
export function readQuery<S extends z.ZodType>(c: Context<AppEnv>, schema: S): z.output<S> {
  const result = schema.safeParse(c.req.query());
  if (!result.success) throw invalidRequest(result.error, "query");
  return result.data;
}
