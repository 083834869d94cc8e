/**
 * `deno task console`: the operator console's local server. Builds the bundle when needed, serves it, and
 * proxies `/api/*` to `<FUNCTIONS_URL>/fly-apps-admin/*`, adding the provisioner secret (from the
 * environment or `supabase/functions/.env`) and `X-Actor` (`OPS_ACTOR`, default `console`) itself: the
 * browser never sees the secret, and whatever credentials a browser sends are dropped. `/console.json` tells
 * the page which optional admin routes the API has (rollouts), so it makes no request that must fail.
 *
 * Also used by `deno task dev` (started next to the stack) and by the browser tests.
 *
 * @module
 */
import { Hono } from "hono";
import { parseArgs } from "node:util";
import { paths } from "../local/paths.ts";
import { readFunctionsEnvFile } from "../local/stack.ts";
import { buildConsole, CONSOLE_DIST } from "./build.ts";

/** Default port of `deno task console`. */
export const DEFAULT_CONSOLE_PORT = 54390;

/** Options of {@link startConsoleServer}. */
export interface ConsoleServerOptions {
  /** The functions' base URL, e.g. `http://127.0.0.1:54380/functions/v1`. */
  functionsUrl: string;
  /** The provisioner secret the proxy presents. */
  provisionerSecret: string;
  /** `X-Actor` on every proxied call (default `console`). */
  actor?: string;
  /** Port (default {@link DEFAULT_CONSOLE_PORT}; 0 = a free one). */
  port?: number;
  /** Interface (default 127.0.0.1). */
  hostname?: string;
}

/** A running console server. */
export interface ConsoleServer {
  /** e.g. `http://127.0.0.1:54390`. */
  url: string;
  port: number;
  /** Stops serving. */
  close(): Promise<void>;
}

/** Request headers the proxy passes on; everything else (cookies, auth, apikey) stays in the browser. */
const FORWARDED_HEADERS = ["content-type", "accept"];

/** Content types of the bundle's files. */
const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  map: "application/json",
};

/** Thrown for a problem the user fixes with one setting. */
export class ConsoleConfigError extends Error {}

/** The hono app: the proxy, the features document and the static bundle. */
function consoleApp(options: ConsoleServerOptions & { distDir: string }): Hono {
  const adminBase = `${options.functionsUrl.replace(/\/+$/, "")}/fly-apps-admin`;
  const auth = {
    authorization: `Bearer ${options.provisionerSecret}`,
    "x-actor": options.actor ?? "console",
  };
  let features: { value: Record<string, boolean>; at: number } | undefined;

  return new Hono()
    .all("/api/*", async (c) => {
      const incoming = new URL(c.req.url);
      const target = `${adminBase}${incoming.pathname.slice("/api".length)}${incoming.search}`;
      const headers = new Headers(auth);
      for (const name of FORWARDED_HEADERS) {
        const value = c.req.header(name);
        if (value) headers.set(name, value);
      }
      const method = c.req.method;
      try {
        const upstream = await fetch(target, {
          method,
          headers,
          body: method === "GET" || method === "HEAD" ? undefined : await c.req.arrayBuffer(),
        });
        return new Response(upstream.body, {
          status: upstream.status,
          headers: {
            "content-type": upstream.headers.get("content-type") ?? "application/json",
            "cache-control": "no-store",
          },
        });
      } catch (error) {
        return c.json(
          {
            error: {
              code: "upstream_unreachable",
              message: `the admin API did not answer: ${(error as Error).message}`,
            },
          },
          502,
        );
      }
    })
    .get("/console.json", async (c) => {
      if (!features || Date.now() - features.at > 30_000) {
        const probe = await fetch(`${adminBase}/rollouts`, { headers: auth }).catch(() => undefined);
        await probe?.body?.cancel();
        features = { value: { rollouts: probe ? probe.status !== 404 : false }, at: Date.now() };
      }
      return c.json(features.value, 200, { "cache-control": "no-store" });
    })
    .get("*", async (c) => {
      const path = new URL(c.req.url).pathname;
      const file = /^\/[\w.-]+$/.test(path) ? path.slice(1) : "index.html";
      const extension = file.split(".").at(-1) ?? "";
      try {
        const body = await Deno.readFile(`${options.distDir}/${file}`);
        return c.body(body, 200, { "content-type": CONTENT_TYPES[extension] ?? "application/octet-stream" });
      } catch {
        return c.json({ error: { code: "not_found", message: `no file ${file}` } }, 404);
      }
    });
}

/**
 * Builds the bundle if needed and serves the console. Throws {@link ConsoleConfigError} with one line when
 * the port is taken.
 */
export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  await buildConsole();
  const app = consoleApp({ ...options, distDir: CONSOLE_DIST });
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? DEFAULT_CONSOLE_PORT;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname, port, onListen: () => {} }, app.fetch);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new ConsoleConfigError(
        `port ${port} (CONSOLE_PORT) is already in use: stop what listens there or set CONSOLE_PORT to a free port`,
      );
    }
    throw error;
  }
  return {
    url: `http://${hostname}:${server.addr.port}`,
    port: server.addr.port,
    close: () => server.shutdown(),
  };
}

/** FUNCTIONS_URL and PROVISIONER_SECRET from the environment, the secret also from supabase/functions/.env. */
export async function consoleSettings(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<Pick<ConsoleServerOptions, "functionsUrl" | "provisionerSecret" | "actor">> {
  const functionsUrl = env.FUNCTIONS_URL?.trim();
  if (!functionsUrl) {
    throw new ConsoleConfigError(
      "FUNCTIONS_URL is not set: export FUNCTIONS_URL=https://<project-ref>.supabase.co/functions/v1 (deno task dev prints the local one)",
    );
  }
  try {
    new URL(functionsUrl);
  } catch {
    throw new ConsoleConfigError(
      "FUNCTIONS_URL is not a URL (e.g. https://<project-ref>.supabase.co/functions/v1)",
    );
  }
  const provisionerSecret = env.PROVISIONER_SECRET?.trim() ||
    (await readFunctionsEnvFile(`${paths.functions}/.env`)).PROVISIONER_SECRET;
  if (!provisionerSecret) {
    throw new ConsoleConfigError(
      "PROVISIONER_SECRET is not set: export it or put it in supabase/functions/.env",
    );
  }
  return { functionsUrl, provisionerSecret, actor: env.OPS_ACTOR?.trim() || "console" };
}

/** The port from `--port` or CONSOLE_PORT. */
function portSetting(flag: string | undefined): number {
  const raw = flag ?? Deno.env.get("CONSOLE_PORT")?.trim();
  if (!raw) return DEFAULT_CONSOLE_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConsoleConfigError("CONSOLE_PORT must be a TCP port number (1-65535)");
  }
  return port;
}

const USAGE = `Usage: deno task console [-- --port N] [--help]

Serves the operator console at http://127.0.0.1:<port> and proxies /api/* to <FUNCTIONS_URL>/fly-apps-admin,
adding the provisioner secret (the browser never holds it).

Environment:
  FUNCTIONS_URL        the functions' base URL, e.g. https://<ref>.supabase.co/functions/v1
  PROVISIONER_SECRET   the functions' secret (else read from supabase/functions/.env)
  OPS_ACTOR            recorded as the actor of every action (default console)
  CONSOLE_PORT         port (default ${DEFAULT_CONSOLE_PORT})`;

if (import.meta.main) {
  try {
    const { values } = parseArgs({
      args: Deno.args.filter((arg) => arg !== "--"),
      options: { port: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
    });
    if (values.help) {
      console.log(USAGE);
      Deno.exit(0);
    }
    const server = await startConsoleServer({ ...await consoleSettings(), port: portSetting(values.port) });
    console.log(`Console   ${server.url}`);
  } catch (error) {
    console.error(`console: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
