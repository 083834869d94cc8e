/**
 * One worker of the local functions gateway (the stand-in for one edge-runtime isolate): a Deno process that
 * serves a single function's default export, with the `EdgeRuntime` stand-in installed. The gateway
 * (`worker_pool.ts`) starts it, routes requests to it and ends it.
 *
 *   deno run -A scripts/local/edge_worker.ts --entry supabase/functions/<name>/index.ts
 *
 * Prints `edge worker listening on <port>` once it serves. Control routes (the gateway's only):
 *   GET  /_edge_worker/status        -> {pid, pending_wait_until}
 *   POST /_edge_worker/beforeunload  {reason} -> dispatches `beforeunload` with that reason, 204
 * On SIGTERM it dispatches `beforeunload` (termination), stops serving, lets waitUntil work finish (10 s at
 * most) and exits.
 */
import {
  type BeforeUnloadReason,
  type EdgeRuntimeStandIn,
  installEdgeRuntimeStandIn,
} from "./edge_runtime.ts";

/** What a function module exports by default. */
export interface EdgeFunction {
  fetch(request: Request): Response | Promise<Response>;
}

/** Path prefix of the gateway's control routes (a function slug never starts with `_`). */
export const CONTROL_PREFIX = "/_edge_worker/";

const REASONS: readonly BeforeUnloadReason[] = ["cpu", "memory", "wall_clock", "early_drop", "termination"];

/**
 * A copy of `request` (at `url`, default its own) without its signal: like the edge runtime, background work
 * that outlives the response (EdgeRuntime.waitUntil) must not see the caller's request as aborted. Never
 * touching `request.signal` also keeps Deno.serve from warning about its legacy abort-on-success signal.
 */
export function detached(request: Request, url: string | URL = request.url): Request {
  return new Request(url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    redirect: request.redirect,
  });
}

/** The worker's request handler: control routes, else the function (a throw becomes a 500). */
export function createWorkerHandler(
  fn: EdgeFunction,
  runtime: EdgeRuntimeStandIn,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === `${CONTROL_PREFIX}status`) {
      return Response.json({ pid: Deno.pid, pending_wait_until: runtime.pending() });
    }
    if (pathname === `${CONTROL_PREFIX}beforeunload` && request.method === "POST") {
      const { reason } = await request.json();
      if (!REASONS.includes(reason)) return Response.json({ error: "unknown reason" }, { status: 400 });
      runtime.dispatchBeforeUnload(reason);
      return new Response(null, { status: 204 });
    }
    try {
      return await fn.fetch(detached(request));
    } catch (error) {
      console.error(`function threw: ${(error as Error).message}`);
      return Response.json({ code: "INTERNAL_ERROR", message: "Function failed" }, { status: 500 });
    }
  };
}

function argument(name: string): string {
  const index = Deno.args.indexOf(`--${name}`);
  const value = index >= 0 ? Deno.args[index + 1] : undefined;
  if (!value) throw new Error(`edge_worker.ts: --${name} is required`);
  return value;
}

if (import.meta.main) {
  const runtime = installEdgeRuntimeStandIn();
  const entry = await Deno.realPath(argument("entry"));
  const fn = (await import(new URL(`file://${entry}`).href)).default as EdgeFunction;
  const controller = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen: ({ port }) => console.log(`edge worker listening on ${port}`),
  }, createWorkerHandler(fn, runtime));
  Deno.addSignalListener("SIGTERM", async () => {
    runtime.dispatchBeforeUnload("termination");
    controller.abort();
    await server.finished;
    await runtime.settle(10_000);
    Deno.exit(0);
  });
}
