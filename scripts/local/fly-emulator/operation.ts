/**
 * How every `/v1` operation is served: auth, latency, injected faults, rate limits, the handler, and the
 * `fly-request-id` header, with answers counted per operation.
 */
import type { HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context, Hono } from "hono";
import type { EmulatorCore } from "./core.ts";
import { FlyHttpError } from "./http_error.ts";
import { newUlid } from "./ids.ts";

/** The hono environment of the emulator (node-server bindings, for cutting connections). */
export type EmulatorEnv = { Bindings: HttpBindings };

/** Context of an emulator request. */
export type EmulatorContext = Context<EmulatorEnv>;

/** One spec operation served by the emulator. */
export interface Operation {
  /** Spec operation id, e.g. `Machines_create`. */
  readonly id: string;
  /** HTTP method. */
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Hono route path, e.g. `/v1/apps/:app_name/machines/:machine_id`. */
  readonly path: string;
  /** Serves the request; throws {@link FlyHttpError} for error answers. */
  readonly handle: (c: EmulatorContext) => Response | Promise<Response>;
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/**
 * Cuts the TCP connection in the middle of an answer. The status line goes out first so that the client's
 * HTTP stack cannot treat it as a stale keep-alive connection and silently resend the request elsewhere
 * (which Deno's fetch does, even for a POST, when a pooled connection closes before any byte of a response).
 */
function cutConnection(c: EmulatorContext): Response {
  const { incoming, outgoing } = c.env;
  outgoing.writeHead(200, { "content-type": "application/json", "content-length": "4096" });
  outgoing.write("{", () => incoming.socket.destroy());
  return RESPONSE_ALREADY_SENT;
}

function isAuthorized(c: EmulatorContext, token: string): boolean {
  return c.req.header("authorization") === `Bearer ${token}`;
}

function errorResponse(
  c: EmulatorContext,
  error: FlyHttpError,
  headers: Record<string, string> = {},
): Response {
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  return c.json(error.body(), error.status as 400);
}

/** Serves one request of `operation` through the whole pipeline. */
async function serve(core: EmulatorCore, operation: Operation, c: EmulatorContext): Promise<Response> {
  c.header("fly-request-id", `${newUlid()}-${core.config.defaultRegion}`);
  c.header("server", "Fly/emulator");
  if (!isAuthorized(c, core.config.token)) {
    core.stats.record(operation.id, 401);
    return errorResponse(c, new FlyHttpError(401, "Authenticate: token validation error"));
  }
  await sleep(core.config.latency.requestMs);
  const fault = core.faults.pick(operation.id);
  if (fault?.type === "delay") await sleep(fault.ms);
  if (fault?.type === "reset") {
    core.stats.record(operation.id, "reset");
    return cutConnection(c);
  }
  if (fault?.type === "status") {
    core.stats.record(operation.id, fault.status);
    const retryAfter: Record<string, string> = fault.retryAfterSeconds === undefined
      ? {}
      : { "retry-after": String(fault.retryAfterSeconds) };
    const message = fault.status === 429 ? "rate limit exceeded" : "internal: injected fault";
    return errorResponse(c, new FlyHttpError(fault.status, message), retryAfter);
  }
  if (core.config.enforceRateLimits) {
    const identifier = c.req.param("machine_id") ?? c.req.param("app_name") ?? core.config.orgSlug;
    if (core.rateLimiter.check(operation.id, identifier) > 0) {
      core.stats.record(operation.id, 429);
      return errorResponse(c, new FlyHttpError(429, "rate limit exceeded"));
    }
  }
  let response: Response;
  try {
    response = await operation.handle(c);
  } catch (error) {
    if (!(error instanceof FlyHttpError)) throw error;
    response = errorResponse(c, error);
  }
  if (fault?.type === "drop-response") {
    core.stats.record(operation.id, "dropped");
    return cutConnection(c);
  }
  core.stats.record(operation.id, response.status);
  return response;
}

/** Registers operations on the hono app. */
export function registerOperations(
  app: Hono<EmulatorEnv>,
  core: EmulatorCore,
  operations: readonly Operation[],
) {
  for (const operation of operations) {
    app.on(operation.method, operation.path, (c) => serve(core, operation, c));
  }
}
