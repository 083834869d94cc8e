/**
 * HTTP transport of the Fly client: auth header, rate limiting, per-attempt timeout, retries (fetch-retry),
 * error mapping and response parsing with zod.
 */
import fetchBuilder from "fetch-retry";
import type { z } from "zod";
import {
  FlyAbortedError,
  flyApiErrorFor,
  FlyNetworkError,
  type FlyNetworkFailure,
  type FlyRequestTarget,
  FlyResponseFormatError,
} from "./errors.ts";
import type { FlyRateLimiter } from "./limiter.ts";
import { rateKeyFor } from "./rate_limits.ts";
import {
  type AttemptOutcome,
  classifyFetchFailure,
  parseRetryAfterMs,
  requestRetryDelayMs,
  type RetryOptions,
  shouldRetry,
} from "./retry_policy.ts";
import { FlyErrorBodySchema } from "./schemas/error_body.ts";

/** Query string values; arrays become repeated parameters, undefined ones are left out. */
export type QueryValue = string | number | boolean | readonly string[] | undefined;

/** One API call, as the resources describe it. */
export interface FlyCall<T> {
  /** Spec operation id, e.g. `Machines_start`; names the rate-limit action and appears in logs and errors. */
  readonly operation: string;
  /** HTTP method. */
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path below the base URL, starting with `/v1/`, with path parameters already encoded. */
  readonly path: string;
  /** The machine id, app name or org slug the rate limit is counted on. */
  readonly rateIdentifier: string;
  /** Whether repeating the call after an ambiguous failure is harmless. */
  readonly idempotent: boolean;
  /** Query parameters. */
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** JSON body. */
  readonly body?: unknown;
  /** Extra headers (e.g. `fly-machine-lease-nonce`). */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** Schema of the 2xx body; without one the body is discarded and the call resolves to undefined. */
  readonly schema?: z.ZodType<T>;
  /** Per-attempt timeout overriding the client default (long polls). */
  readonly timeoutMs?: number;
  /** Cancels the call, including waits in the limiter and between retries. */
  readonly signal?: AbortSignal;
}

/** One attempt, as reported to {@link FlyTransportOptions.onAttempt}. Contains no token and no body. */
export interface FlyAttemptLog {
  /** Spec operation id. */
  readonly operation: string;
  /** HTTP method. */
  readonly method: string;
  /** Path below the base URL. */
  readonly path: string;
  /** 0 for the first attempt, then 1, 2, ... */
  readonly attempt: number;
  /** Milliseconds from sending to response headers (or failure). */
  readonly durationMs: number;
  /** HTTP status, when there was a response. */
  readonly status?: number;
  /** `fly-request-id`, when there was a response. */
  readonly requestId?: string;
  /** Network failure, when there was no response. */
  readonly failure?: FlyNetworkFailure | "aborted";
}

/** What binds every call of a scoped transport (one reconcile attempt). */
export interface CallScope {
  /** Aborts every call of the scope, in flight or waiting for the limiter. */
  readonly signal: AbortSignal;
  /**
   * Epoch ms up to which another function instance may have drawn on Fly's per-app and per-machine buckets
   * for the scope's calls (a user's lease taken over from it): see `AcquireOptions.coldSince` in `limiter.ts`.
   */
  readonly coldSince?: number;
}

/** Settings of a {@link FlyTransport}. */
export interface FlyTransportOptions {
  /** API origin, e.g. `https://api.machines.dev` (a trailing `/v1` is accepted and dropped). */
  readonly baseUrl: string;
  /** Bearer token. Never logged, never put into errors. */
  readonly token: string;
  /** Per-attempt timeout in milliseconds. */
  readonly timeoutMs: number;
  /** Retry settings. */
  readonly retry: RetryOptions;
  /** Rate limiter; none means unlimited. */
  readonly limiter?: FlyRateLimiter;
  /** The fetch implementation (tests pass a recording one). */
  readonly fetch: typeof fetch;
  /** Value of the User-Agent header. */
  readonly userAgent: string;
  /** Called after every attempt, for logs and metrics. */
  readonly onAttempt?: (log: FlyAttemptLog) => void;
}

/** Removes the trailing slash and `/v1` so that paths can always start with `/v1/`. */
function normalizeBaseUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
}

function buildQueryString(query: Readonly<Record<string, QueryValue>> | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    if (Array.isArray(value)) value.forEach((item) => params.append(name, item));
    else params.append(name, String(value));
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

/** Sends calls to the Machines API. One instance per client; safe for concurrent use. */
export class FlyTransport {
  readonly #options: FlyTransportOptions;
  readonly #baseUrl: string;
  readonly #scope: CallScope | undefined;

  /** Creates a transport with the given settings; `scope` binds every call it sends. */
  constructor(options: FlyTransportOptions, scope?: CallScope) {
    this.#options = options;
    this.#baseUrl = normalizeBaseUrl(options.baseUrl);
    this.#scope = scope;
  }

  /** The same transport (same limiter and settings) with every call also bound to `scope`. */
  scoped(scope: CallScope): FlyTransport {
    const outer = this.#scope;
    return new FlyTransport(this.#options, {
      signal: outer ? AbortSignal.any([outer.signal, scope.signal]) : scope.signal,
      coldSince: scope.coldSince ?? outer?.coldSince,
    });
  }

  /** Sends `call`, retrying where safe, and resolves to its parsed 2xx body; throws a {@link FlyError}. */
  async send<T>(call: FlyCall<T>): Promise<T> {
    return (await this.exchange(call)).body;
  }

  /** Like {@link send}, but also gives the response headers (for `fly-next-cursor`). */
  async exchange<T>(scopedCall: FlyCall<T>): Promise<{ body: T; headers: Headers }> {
    const scope = this.#scope?.signal;
    const call = scope
      ? { ...scopedCall, signal: scopedCall.signal ? AbortSignal.any([scopedCall.signal, scope]) : scope }
      : scopedCall;
    const target: FlyRequestTarget = { operation: call.operation, method: call.method, path: call.path };
    const url = `${this.#baseUrl}${call.path}${buildQueryString(call.query)}`;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#options.token}`,
      accept: "application/json",
      "user-agent": this.#options.userAgent,
    };
    for (const [name, value] of Object.entries(call.headers ?? {})) {
      if (value !== undefined) headers[name] = value;
    }
    if (call.body !== undefined) headers["content-type"] = "application/json";
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);

    const retrying = fetchBuilder(this.#attemptFetcher(call));
    let response: Response;
    try {
      response = await retrying(url, {
        method: call.method,
        headers,
        body,
        retryOn: (attempt: number, error: Error | null, response: Response | null) =>
          this.#retryOn(call, attempt, error, response),
        retryDelay: (attempt: number, _error: Error | null, response: Response | null) =>
          parseRetryAfterMs(response?.headers.get("retry-after") ?? null) ??
            requestRetryDelayMs(attempt, this.#options.retry),
      });
    } catch (error) {
      throw this.#networkError(target, error, call.signal);
    }
    return await this.#readResponse(target, call, response);
  }

  /**
   * A fetch for one attempt: waits for the limiter, applies the timeout, reads the whole body (so that a
   * connection lost mid-answer fails the attempt and can be retried), reports the attempt.
   */
  #attemptFetcher(call: FlyCall<unknown>): (url: string, init: RequestInit) => Promise<Response> {
    let attempt = 0;
    return async (url, init) => {
      const thisAttempt = attempt++;
      const release = this.#options.limiter
        ? await this.#options.limiter.acquire(rateKeyFor(call.operation, call.rateIdentifier), {
          signal: call.signal,
          coldSince: this.#scope?.coldSince,
        })
        : () => {};
      const timeout = AbortSignal.timeout(call.timeoutMs ?? this.#options.timeoutMs);
      const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
      const started = performance.now();
      const report = (fields: Partial<FlyAttemptLog>) =>
        this.#options.onAttempt?.({
          operation: call.operation,
          method: call.method,
          path: call.path,
          attempt: thisAttempt,
          durationMs: Math.round(performance.now() - started),
          ...fields,
        });
      try {
        const response = await this.#options.fetch(url, { ...init, signal });
        const text = await response.text();
        report({ status: response.status, requestId: response.headers.get("fly-request-id") ?? undefined });
        return new Response(text === "" ? null : text, {
          status: response.status,
          headers: response.headers,
        });
      } catch (error) {
        report({ failure: classifyFetchFailure(error, call.signal) });
        throw error;
      } finally {
        release();
      }
    };
  }

  async #retryOn(call: FlyCall<unknown>, attempt: number, error: Error | null, response: Response | null) {
    if (attempt >= this.#options.retry.maxRetries) return false;
    const outcome: AttemptOutcome = response
      ? { status: response.status, retryAfterMs: parseRetryAfterMs(response.headers.get("retry-after")) }
      : { failure: classifyFetchFailure(error, call.signal) };
    if (response?.ok) return false;
    const retry = shouldRetry(outcome, call.idempotent, this.#options.retry);
    if (retry) await response?.body?.cancel();
    return retry;
  }

  #networkError(target: FlyRequestTarget, error: unknown, signal?: AbortSignal) {
    const failure = classifyFetchFailure(error, signal);
    if (failure === "aborted") return new FlyAbortedError(target, { cause: error });
    const detail = this.#redact(error instanceof Error ? error.message : String(error));
    return new FlyNetworkError(target, failure, detail);
  }

  async #readResponse<T>(
    target: FlyRequestTarget,
    call: FlyCall<T>,
    response: Response,
  ): Promise<{ body: T; headers: Headers }> {
    const requestId = response.headers.get("fly-request-id") ?? undefined;
    const text = await response.text();
    if (!response.ok) {
      const parsed = FlyErrorBodySchema.safeParse(safeJson(text));
      const message = parsed.success
        ? parsed.data.error ?? parsed.data.message
        : text.slice(0, 200) || undefined;
      throw flyApiErrorFor(target, {
        status: response.status,
        error: message === undefined ? undefined : this.#redact(message),
        flyStatus: parsed.success ? parsed.data.status : undefined,
        requestId,
        retryAfterMs: parseRetryAfterMs(response.headers.get("retry-after")),
      });
    }
    if (!call.schema) return { body: undefined as T, headers: response.headers };
    const parsed = call.schema.safeParse(safeJson(text));
    if (!parsed.success) {
      const problem = parsed.error.issues.map((issue) =>
        `${issue.path.join(".") || "body"}: ${issue.message}`
      );
      throw new FlyResponseFormatError(target, problem.join("; "), requestId);
    }
    return { body: parsed.data, headers: response.headers };
  }

  #redact(text: string): string {
    return this.#options.token === "" ? text : text.replaceAll(this.#options.token, "[redacted]");
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
