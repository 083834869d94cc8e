/**
 * JSON errors: `{error: {code, message, field?}}` for every failure, never a stack trace or a secret.
 *
 * @module
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "./env.ts";

/** Body of every error response. */
export interface ErrorBody {
  /** What went wrong. */
  error: {
    /** Machine-readable code, e.g. `invalid_request`, `unauthorized`, `not_found`. */
    code: string;
    /** Human-readable explanation; contains no secret. */
    message: string;
    /** The request field at fault, for `invalid_request`. */
    field?: string;
  };
}

/** An error that becomes a JSON error response with its status, code and message. */
export class HttpError extends Error {
  /** HTTP status of the response. */
  readonly status: ContentfulStatusCode;
  /** Machine-readable error code. */
  readonly code: string;
  /** The request field at fault, if any. */
  readonly field: string | undefined;
  /** Extra response headers (e.g. `WWW-Authenticate`, `Allow`). */
  readonly headers: Readonly<Record<string, string>>;

  /** Create an error answered as `status` with body `{error: {code, message, field}}`. */
  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options: { field?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.field = options.field;
    this.headers = options.headers ?? {};
  }

  /** The response body. */
  toBody(): ErrorBody {
    const { code, message, field } = this;
    return { error: field === undefined ? { code, message } : { code, message, field } };
  }
}

/** Codes of the statuses hono itself may raise as HTTPException. */
const CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: "invalid_request",
  401: "unauthorized",
  404: "not_found",
  405: "method_not_allowed",
};

/** The JSON response for `error`. */
function respond(c: Context<AppEnv>, error: HttpError): Response {
  return c.json(error.toBody(), error.status, error.headers);
}

/**
 * Hono error handler: HttpError as is; hono's HTTPException by status with a generic message; anything else
 * is logged (name and message, redacted) and answered 500 `internal_error` without details.
 */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof HttpError) return respond(c, err);
  if (err instanceof HTTPException && err.status < 500) {
    const code = CODE_BY_STATUS[err.status] ?? "http_error";
    return respond(c, new HttpError(err.status, code, `request failed with status ${err.status}`));
  }
  c.var.log?.error("unhandled error", { error: err });
  return respond(c, new HttpError(500, "internal_error", "internal error; see the function logs"));
};

/** Hono not-found handler: 404 `not_found`. */
export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  respond(c, new HttpError(404, "not_found", "no such route"));
