/**
 * Local stand-in for Supabase's functions gateway: serves the default export of every
 * `supabase/functions/<name>/index.ts` at `/functions/v1/<name>`, passing the request on with the path the
 * edge runtime gives a function (`/<name>/...`). Run as its own process (see `startFunctionsGateway`), with
 * the environment the hosted runtime would provide.
 *
 *   deno run -A scripts/local/functions_gateway.ts --port 54321 [--functions-dir supabase/functions]
 */
import { installEdgeRuntimeStandIn } from "./edge_runtime.ts";

/** What a function module exports by default. */
export interface EdgeFunction {
  fetch(request: Request): Response | Promise<Response>;
}

const SLUG = /^[A-Za-z][A-Za-z0-9_-]*$/;
const ROUTE = /^\/functions\/v1\/([^/?#]+)(\/.*)?$/;

/** Names of the functions in `dir`: folders whose name is a valid slug and that hold an index.ts. */
export async function discoverFunctions(dir: string): Promise<string[]> {
  const names = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isDirectory || !SLUG.test(entry.name)) continue;
    try {
      await Deno.stat(`${dir}/${entry.name}/index.ts`);
      names.push(entry.name);
    } catch {
      // not a function folder
    }
  }
  return names.sort();
}

function notFound(): Response {
  return Response.json({ code: "NOT_FOUND", message: "Requested function was not found" }, { status: 404 });
}

/** Builds the gateway's request handler over already-loaded functions. */
export function createGatewayHandler(
  functions: Map<string, EdgeFunction>,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const match = ROUTE.exec(url.pathname);
    const fn = match ? functions.get(match[1]) : undefined;
    if (!match || !fn) return notFound();
    url.pathname = `/${match[1]}${match[2] ?? ""}`;
    // A fresh request without the incoming signal: like the edge runtime, background work that outlives the
    // response (EdgeRuntime.waitUntil) must not see the client's request as aborted.
    const forwarded = new Request(url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: request.redirect,
    });
    try {
      return await fn.fetch(forwarded);
    } catch (error) {
      console.error(`function ${match[1]} threw:`, (error as Error).message);
      return Response.json({ code: "INTERNAL_ERROR", message: "Function failed" }, { status: 500 });
    }
  };
}

/** Imports every function module of `dir`. */
export async function loadFunctions(dir: string): Promise<Map<string, EdgeFunction>> {
  const functions = new Map<string, EdgeFunction>();
  for (const name of await discoverFunctions(dir)) {
    const module = await import(new URL(`file://${await Deno.realPath(`${dir}/${name}/index.ts`)}`).href);
    functions.set(name, module.default as EdgeFunction);
  }
  return functions;
}

function argument(name: string, fallback: string): string {
  const index = Deno.args.indexOf(`--${name}`);
  return index >= 0 && Deno.args[index + 1] ? Deno.args[index + 1] : fallback;
}

if (import.meta.main) {
  const runtime = installEdgeRuntimeStandIn();
  const dir = argument("functions-dir", "supabase/functions");
  const functions = await loadFunctions(dir);
  const controller = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: Number(argument("port", "0")),
    signal: controller.signal,
    onListen: ({ port }) => {
      console.log(
        `functions gateway listening on http://127.0.0.1:${port} (${[...functions.keys()].join(", ")})`,
      );
    },
  }, createGatewayHandler(functions));
  const shutdown = async () => {
    controller.abort();
    await server.finished;
    await runtime.settle(10_000);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", shutdown);
  Deno.addSignalListener("SIGINT", shutdown);
}
