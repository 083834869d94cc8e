/**
 * Local stand-in for Supabase's functions gateway and edge runtime: serves the default export of every
 * `supabase/functions/<name>/index.ts` at `/functions/v1/<name>`, passing the request on with the path the
 * edge runtime gives a function (`/<name>/...`). Each function runs in its own worker processes, with the
 * hosted wall-clock limit (`worker_pool.ts`). Run as its own process (see `startFunctionsGateway`), with the
 * environment the hosted runtime would provide.
 *
 *   deno run -A scripts/local/functions_gateway.ts --port 54321 [--functions-dir supabase/functions]
 *     [--workers 4] [--wall-clock-ms 150000]
 */
import { DEFAULT_WALL_CLOCK_MS, DEFAULT_WORKERS, MAX_WALL_CLOCK_MS } from "./edge_runtime.ts";
import { detached, type EdgeFunction } from "./edge_worker.ts";
import { FunctionWorkerPool } from "./worker_pool.ts";

export type { EdgeFunction } from "./edge_worker.ts";

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

/** Builds the gateway's request handler over the functions (in the gateway: their worker pools). */
export function createGatewayHandler(
  functions: Map<string, EdgeFunction>,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const match = ROUTE.exec(url.pathname);
    const fn = match ? functions.get(match[1]) : undefined;
    if (!match || !fn) return notFound();
    url.pathname = `/${match[1]}${match[2] ?? ""}`;
    try {
      return await fn.fetch(detached(request, url));
    } catch (error) {
      console.error(`function ${match[1]} failed:`, (error as Error).message);
      return Response.json({ code: "INTERNAL_ERROR", message: "Function failed" }, { status: 500 });
    }
  };
}

function argument(name: string, fallback: string): string {
  const index = Deno.args.indexOf(`--${name}`);
  return index >= 0 && Deno.args[index + 1] ? Deno.args[index + 1] : fallback;
}

function integerArgument(name: string, fallback: number, min: number, max: number): number {
  const value = Number(argument(name, String(fallback)));
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

if (import.meta.main) {
  const dir = argument("functions-dir", "supabase/functions");
  const size = integerArgument("workers", DEFAULT_WORKERS, 1, 64);
  const wallClockMs = integerArgument("wall-clock-ms", DEFAULT_WALL_CLOCK_MS, 100, MAX_WALL_CLOCK_MS);
  const pools = new Map<string, FunctionWorkerPool>();
  for (const name of await discoverFunctions(dir)) {
    const entry = await Deno.realPath(`${dir}/${name}/index.ts`);
    pools.set(
      name,
      new FunctionWorkerPool({ name, entry, size, wallClockMs, onLine: (line) => console.log(line) }),
    );
  }
  const controller = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: Number(argument("port", "0")),
    signal: controller.signal,
    onListen: ({ port }) => {
      console.log(
        `functions gateway listening on http://127.0.0.1:${port} (${[...pools.keys()].join(", ")}; ` +
          `${size} workers each, wall clock ${wallClockMs / 1000} s)`,
      );
    },
  }, createGatewayHandler(pools));
  const shutdown = async () => {
    controller.abort();
    await server.finished;
    await Promise.all([...pools.values()].map((pool) => pool.stop()));
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", shutdown);
  Deno.addSignalListener("SIGINT", shutdown);
}
