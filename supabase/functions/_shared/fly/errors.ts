/**
 * Errors raised by the Fly Machines client.
 *
 * Callers branch on the class (or on {@link FlyApiError.code}) and on {@link FlyError.retryable}; every error
 * keeps the `fly-request-id` of the response when there was one. Messages never contain the API token.
 */

/** What kind of API failure an HTTP status (and the body's `status` field) denotes. */
export type FlyErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "request_timeout"
  | "conflict"
  | "name_taken"
  | "unprocessable"
  | "precondition_failed"
  | "rate_limited"
  | "insufficient_capacity"
  | "server_error"
  | "unexpected_status";

/** Where a request failed, for log lines and messages. */
export interface FlyRequestTarget {
  /** Spec operation id, e.g. `Machines_create`. */
  readonly operation: string;
  /** HTTP method. */
  readonly method: string;
  /** Path below the base URL, e.g. `/v1/apps/my-app/machines`. */
  readonly path: string;
}

/** Base class of every error the client throws. */
export class FlyError extends Error {
  /** Whether the same call may succeed if repeated later (network trouble, 408, 409, 412 races, 429, 5xx). */
  readonly retryable: boolean;
  /** The request that failed. */
  readonly target: FlyRequestTarget;

  /** Builds an error for `target`; `retryable` says whether repeating the call later can help. */
  constructor(message: string, target: FlyRequestTarget, retryable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.retryable = retryable;
    this.target = target;
  }
}

/** Fields of a non-2xx response from the Machines API. */
export interface FlyApiErrorDetails {
  /** HTTP status. */
  readonly status: number;
  /** The body's `error` string (often `"<grpc_code>: <message>"`), if any. */
  readonly error?: string;
  /** The body's `status` field (`name_taken`, `insufficient_capacity`, ...), if any. */
  readonly flyStatus?: string;
  /** The `fly-request-id` response header, if any. */
  readonly requestId?: string;
  /** Milliseconds from a `Retry-After` header, if any. */
  readonly retryAfterMs?: number;
}

/** The API answered with a non-2xx status. */
export class FlyApiError extends FlyError {
  /** HTTP status. */
  readonly status: number;
  /** Classification of the status, for callers that prefer a switch over `instanceof`. */
  readonly code: FlyErrorCode;
  /** The body's `error` string, if any. */
  readonly error?: string;
  /** The body's `status` field, if any. */
  readonly flyStatus?: string;
  /** The `fly-request-id` response header, if any. */
  readonly requestId?: string;
  /** Milliseconds from a `Retry-After` header, if any. */
  readonly retryAfterMs?: number;

  /** Builds the error; use {@link flyApiErrorFor} to get the matching subclass. */
  constructor(target: FlyRequestTarget, details: FlyApiErrorDetails, code: FlyErrorCode, retryable: boolean) {
    const requestId = details.requestId ? ` (fly-request-id ${details.requestId})` : "";
    super(
      `${target.operation} ${target.method} ${target.path} failed with ${details.status}: ${
        details.error ?? "no error message"
      }${requestId}`,
      target,
      retryable,
    );
    this.status = details.status;
    this.code = code;
    this.error = details.error;
    this.flyStatus = details.flyStatus;
    this.requestId = details.requestId;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** 400: the request was invalid (bad config, bad parameter). Permanent. */
export class FlyBadRequestError extends FlyApiError {}
/** 401: the token was rejected. Permanent. */
export class FlyUnauthorizedError extends FlyApiError {}
/** 403: not allowed; for `GET /apps/{name}` it means the name belongs to an app in another organization. */
export class FlyForbiddenError extends FlyApiError {}
/** 404: the app, machine, lease, secret or key does not exist. */
export class FlyNotFoundError extends FlyApiError {}
/** 408: the server gave up waiting (a wait deadline, or an ambiguous create). Retryable. */
export class FlyRequestTimeoutError extends FlyApiError {}
/** 409: stale `current_version`, a lease held by someone else, or no capacity (`aborted: ...`). Retryable. */
export class FlyConflictError extends FlyApiError {}
/** 422 with `status: name_taken`: the app name is used somewhere on Fly (names are global). */
export class FlyNameTakenError extends FlyApiError {}
/** 412: wrong machine state for the action (`machine still active`, `getting replaced`), secrets not yet available, stale metadata version. Retryable. */
export class FlyPreconditionFailedError extends FlyApiError {}
/** 429: rate limited. Retryable; {@link FlyApiError.retryAfterMs} is set when the server said how long. */
export class FlyRateLimitedError extends FlyApiError {}
/** 5xx: the server failed. Retryable. */
export class FlyServerError extends FlyApiError {}

/** Why a request got no HTTP response at all. */
export type FlyNetworkFailure = "connection_refused" | "connection_lost" | "timeout";

/** No HTTP response: connection refused, connection lost, or the client-side timeout fired. */
export class FlyNetworkError extends FlyError {
  /** What went wrong. */
  readonly failure: FlyNetworkFailure;
  /**
   * Whether the server may have received and executed the request. Only a refused connection proves it did
   * not; after anything else a create may have succeeded silently, so look for it before creating again.
   */
  readonly mayHaveReachedServer: boolean;

  /** Builds the error for `target` from the kind of failure and its cause. */
  constructor(target: FlyRequestTarget, failure: FlyNetworkFailure, detail: string, options?: ErrorOptions) {
    super(
      `${target.operation} ${target.method} ${target.path}: ${failure} (${detail})`,
      target,
      true,
      options,
    );
    this.failure = failure;
    this.mayHaveReachedServer = failure !== "connection_refused";
  }
}

/** A 2xx response whose body did not have the fields the client needs. Permanent. */
export class FlyResponseFormatError extends FlyError {
  /** The `fly-request-id` response header, if any. */
  readonly requestId?: string;

  /** Builds the error from the parse problem description. */
  constructor(target: FlyRequestTarget, problem: string, requestId?: string) {
    super(
      `${target.operation} ${target.method} ${target.path}: unexpected response body: ${problem}`,
      target,
      false,
    );
    this.requestId = requestId;
  }
}

/** The call was cancelled through the caller's AbortSignal. Not retryable by itself. */
export class FlyAbortedError extends FlyError {
  /** Builds the error for `target`. */
  constructor(target: FlyRequestTarget, options?: ErrorOptions) {
    super(
      `${target.operation} ${target.method} ${target.path}: aborted by the caller`,
      target,
      false,
      options,
    );
  }
}

type FlyApiErrorClass = new (
  target: FlyRequestTarget,
  details: FlyApiErrorDetails,
  code: FlyErrorCode,
  retryable: boolean,
) => FlyApiError;

interface Classification {
  readonly code: FlyErrorCode;
  readonly retryable: boolean;
  readonly errorClass: FlyApiErrorClass;
}

const STATUS_CLASSIFICATION: Readonly<Record<number, Classification>> = {
  400: { code: "bad_request", retryable: false, errorClass: FlyBadRequestError },
  401: { code: "unauthorized", retryable: false, errorClass: FlyUnauthorizedError },
  403: { code: "forbidden", retryable: false, errorClass: FlyForbiddenError },
  404: { code: "not_found", retryable: false, errorClass: FlyNotFoundError },
  408: { code: "request_timeout", retryable: true, errorClass: FlyRequestTimeoutError },
  409: { code: "conflict", retryable: true, errorClass: FlyConflictError },
  412: { code: "precondition_failed", retryable: true, errorClass: FlyPreconditionFailedError },
  422: { code: "unprocessable", retryable: false, errorClass: FlyApiError },
  429: { code: "rate_limited", retryable: true, errorClass: FlyRateLimitedError },
};

function classify(details: FlyApiErrorDetails): Classification {
  const nameTaken = details.flyStatus === "name_taken" ||
    (details.status === 422 && /name has already been taken/i.test(details.error ?? ""));
  if (nameTaken) return { code: "name_taken", retryable: false, errorClass: FlyNameTakenError };
  if (details.flyStatus === "insufficient_capacity" || details.flyStatus === "volume_placement_capacity") {
    return { code: "insufficient_capacity", retryable: true, errorClass: FlyApiError };
  }
  const known = STATUS_CLASSIFICATION[details.status];
  if (known) return known;
  if (details.status >= 500) return { code: "server_error", retryable: true, errorClass: FlyServerError };
  return { code: "unexpected_status", retryable: false, errorClass: FlyApiError };
}

/** Builds the most specific {@link FlyApiError} subclass for a non-2xx response. */
export function flyApiErrorFor(target: FlyRequestTarget, details: FlyApiErrorDetails): FlyApiError {
  const { code, retryable, errorClass } = classify(details);
  return new errorClass(target, details, code, retryable);
}
