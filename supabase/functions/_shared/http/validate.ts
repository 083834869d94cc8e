/**
 * Request validation with zod: a failure becomes 400 `invalid_request` naming the field at fault (a field
 * the schema does not know is named too). A request body must be JSON and say so (`Content-Type:
 * application/json`, else 415), so a browser cannot send one cross-site without a preflight. The
 * middleware forms ({@link paramsOf}, {@link jsonBody}, {@link queryOf}) also declare the input to hono's route types, so the
 * typed client (`hono/client`'s `hc`) knows each route's body and query.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { z } from "zod";
import type { AppEnv } from "./env.ts";
import { HttpError } from "./errors.ts";

/**
 * The 400 error for the first issue of a failed parse; `root` names the field when the issue has no path.
 * Unknown fields (a strict object's `unrecognized_keys`) are named: the first is the field, all are in the
 * message.
 */
export function invalidRequest(error: z.ZodError, root: string): HttpError {
  const issue = error.issues[0];
  const unknown = issue?.code === "unrecognized_keys" ? issue.keys : [];
  const path = [...(issue?.path ?? []), ...unknown.slice(0, 1)];
  const field = path.length ? path.map(String).join(".") : root;
  const message = unknown.length > 1
    ? `${unknown.join(", ")} are not fields of this request`
    : unknown.length === 1
    ? `${field} is not a field of this request`
    : `${field} ${issue?.message ?? "is invalid"}`;
  return new HttpError(400, "invalid_request", message, { field });
}

/** Whether a `Content-Type` value is JSON (`application/json`, with or without parameters). */
export function isJsonMediaType(contentType: string | null | undefined): boolean {
  return contentType?.split(";")[0].trim().toLowerCase() === "application/json";
}

/**
 * The request body parsed as JSON and validated by `schema`. An empty body without a Content-Type counts as
 * `{}`; a body, or any Content-Type, other than `application/json` is 415 `unsupported_media_type`.
 * Invalid JSON → 400 with field `body`.
 */
export async function readJsonBody<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.output<S>> {
  const contentType = c.req.header("content-type");
  const text = await c.req.text();
  if ((contentType !== undefined || text !== "") && !isJsonMediaType(contentType)) {
    throw new HttpError(
      415,
      "unsupported_media_type",
      "the request body must be JSON (Content-Type: application/json)",
    );
  }
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

/** A query value as the typed client sends it (numbers and booleans are written as text). */
type QueryValue<T> = NonNullable<T> extends string ? NonNullable<T> : string | number;

/** Route input declared by {@link jsonBody}. */
export type JsonInput<S extends z.ZodType> = { in: { json: z.input<S> }; out: { json: z.output<S> } };

/** Route input declared by {@link queryOf}. */
export type QueryInput<S extends z.ZodType> = {
  in: { query: { [K in keyof z.input<S>]?: QueryValue<z.input<S>[K]> } };
  out: { query: z.output<S> };
};

/** Middleware: the body as {@link readJsonBody} reads it; the handler takes it with `c.req.valid("json")`. */
export function jsonBody<S extends z.ZodType>(schema: S): MiddlewareHandler<AppEnv, string, JsonInput<S>> {
  return async (c, next) => {
    c.req.addValidatedData("json", await readJsonBody(c, schema) as object);
    await next();
  };
}

/** Middleware: the query as {@link readQuery} reads it; the handler takes it with `c.req.valid("query")`. */
export function queryOf<S extends z.ZodType>(schema: S): MiddlewareHandler<AppEnv, string, QueryInput<S>> {
  return async (c, next) => {
    c.req.addValidatedData("query", readQuery(c, schema) as object);
    await next();
  };
}

/** Route input declared by {@link paramsOf}. */
export type ParamsInput<S extends z.ZodType> = { in: { param: z.input<S> }; out: { param: z.output<S> } };

/** Middleware: the path parameters validated by `schema` (400 naming the parameter); `c.req.valid("param")`. */
export function paramsOf<S extends z.ZodType>(schema: S): MiddlewareHandler<AppEnv, string, ParamsInput<S>> {
  return async (c, next) => {
    const result = schema.safeParse(c.req.param());
    if (!result.success) throw invalidRequest(result.error, "path");
    c.req.addValidatedData("param", result.data as object);
    await next();
  };
}
