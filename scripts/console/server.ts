/**
 * `deno task console`: the operator console's local server. Builds the bundle when needed, serves it, and
 * proxies `/api/*` to `<FUNCTIONS_URL>/fly-apps-admin/*`, adding the provisioner secret (from the
 * environment or `supabase/functions/.env`) and `X-Actor` (`OPS_ACTOR`, default `console`) itself: the
 * browser never sees the secret, and whatever credentials a browser sends are dropped. `/console.json` tells
 * the page which optional admin routes the API has (rollouts), so it makes no request that must fail.
 *
 * It acts only for its own page, since it holds the secret for whoever reaches it (a page of another site in
 * the operator's browser, or one whose host name resolves to 127.0.0.1: DNS rebinding). Every request's
 * `Host` must be the address it listens on or its public URL (`CONSOLE_PUBLIC_URL`, behind a proxy). Under
 * `/api/` and for the token, an `Origin` must be the console's own and a `Sec-Fetch-Site` must be
 * `same-origin`; a request that changes something (any method but GET and HEAD) must also say
 * `Content-Type: application/json` and carry the per-server token in `X-Console-Token`, which the page reads
 * from `/console-token.json` (see `console/src/session.ts`). A refusal is a 403 JSON error and nothing is
 * forwarded. Every answer forbids framing and cross-origin reads and carries a Content-Security-Policy that
 * lets the page load only its own files.
 *
 * Also used by `deno task dev` (started next to the stack) and by the browser tests.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { encodeBase64Url } from "hono/utils/encode";
import { timingSafeEqual } from "hono/utils/buffer";
import { parseArgs } from "node:util";
import { TOKEN_HEADER, TOKEN_PATH, TOKEN_REFUSED } from "../../console/src/session.ts";
import { isJsonMediaType } from "../../supabase/functions/_shared/http/validate.ts";
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
  /**
   * The URL operators open when a proxy serves the console under another name (e.g.
   * `https://console.example.com`): its host and origin are accepted too, and on requests to that host the
   * proxy's `X-Actor` (the signed-in operator) replaces {@link actor}.
   */
  publicUrl?: string;
}

/** A running console server. */
export interface ConsoleServer {
  /** e.g. `http://127.0.0.1:54390`. */
  url: string;
  port: number;
  /** Stops serving. */
  close(): Promise<void>;
}

/**
 * Request headers the proxy passes on; everything else (cookies, auth, apikey, and `X-Actor` except from the
 * proxy in front, see {@link ConsoleServerOptions.publicUrl}) stays in the browser.
 */
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

/** The names and origins the console answers to; filled in once the server listens. */
interface Site {
  /** Accepted `Host` values, lowercase (`127.0.0.1:54390`, `console.example.com`). */
  hosts: Set<string>;
  /** Accepted `Origin` values (`http://127.0.0.1:54390`, `https://console.example.com`). */
  origins: Set<string>;
}

/** Methods that only read. */
const READS = new Set(["GET", "HEAD"]);

/** The page may load its own scripts, styles, images and calls; nothing else, and no one may frame it. */
const SECURITY_HEADERS = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", "data:"],
    fontSrc: ["'self'"],
    connectSrc: ["'self'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
  },
  xFrameOptions: "DENY",
  crossOriginResourcePolicy: "same-origin",
  // HTTPS is the proxy's business: a header here would pin it for the whole host name.
  strictTransportSecurity: false,
});

/** A 403 JSON refusal. */
function refuse(c: Context, code: string, message: string): Response {
  return c.json({ error: { code, message } }, 403, { "cache-control": "no-store" });
}

/**
 * Middleware: only the console's own page gets past (see the module doc); everything else is refused before
 * any request is forwarded.
 */
function ownPageOnly(site: Site, token: string): MiddlewareHandler {
  return async (c, next) => {
    const host = c.req.header("host")?.toLowerCase() ?? "";
    if (!site.hosts.has(host)) {
      return refuse(c, "forbidden_host", `this console answers only to ${[...site.hosts].join(" or ")}`);
    }
    const path = c.req.path;
    const api = path === "/api" || path.startsWith("/api/");
    if (!api && path !== TOKEN_PATH) return await next();
    const origin = c.req.header("origin");
    if (origin !== undefined && !site.origins.has(origin)) {
      return refuse(c, "cross_origin", "requests from another origin are refused");
    }
    const fetchSite = c.req.header("sec-fetch-site");
    if (fetchSite !== undefined && fetchSite !== "same-origin") {
      return refuse(c, "cross_site", `requests from another site are refused (Sec-Fetch-Site: ${fetchSite})`);
    }
    if (api && !READS.has(c.req.method)) {
      if (!isJsonMediaType(c.req.header("content-type"))) {
        return refuse(
          c,
          "json_required",
          "a request that changes something must be Content-Type: application/json",
        );
      }
      if (!(await timingSafeEqual(token, c.req.header(TOKEN_HEADER) ?? ""))) {
        return refuse(c, TOKEN_REFUSED, `missing or wrong ${TOKEN_HEADER}: reload the console`);
      }
    }
    await next();
  };
}

/** The hono app: the same-origin guard, the proxy, the token, the features document and the static bundle. */
function consoleApp(options: ConsoleServerOptions & { distDir: string; site: Site }): Hono {
  const adminBase = `${options.functionsUrl.replace(/\/+$/, "")}/fly-apps-admin`;
  const auth = {
    authorization: `Bearer ${options.provisionerSecret}`,
    "x-actor": options.actor ?? "console",
  };
  const token = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)).buffer);
  const publicHost = options.publicUrl ? new URL(options.publicUrl).host.toLowerCase() : undefined;
  let features: { value: Record<string, boolean>; at: number } | undefined;

  return new Hono()
    .use(SECURITY_HEADERS)
    .use(ownPageOnly(options.site, token))
    .all("/api/*", async (c) => {
      const incoming = new URL(c.req.url);
      const target = `${adminBase}${incoming.pathname.slice("/api".length)}${incoming.search}`;
      const headers = new Headers(auth);
      for (const name of FORWARDED_HEADERS) {
        const value = c.req.header(name);
        if (value) headers.set(name, value);
      }
      // Through the proxy (the public name), the proxy's X-Actor names the signed-in operator.
      const proxied = publicHost !== undefined && c.req.header("host")?.toLowerCase() === publicHost;
      const operator = c.req.header("x-actor");
      if (proxied && operator) headers.set("x-actor", operator);
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
    .get(TOKEN_PATH, (c) => c.json({ token }, 200, { "cache-control": "no-store" }))
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
        return c.body(body, 200, {
          "content-type": CONTENT_TYPES[extension] ?? "application/octet-stream",
          "cache-control": "no-cache",
        });
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
  const site: Site = { hosts: new Set(), origins: new Set() };
  const app = consoleApp({ ...options, distDir: CONSOLE_DIST, site });
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
  const url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${server.addr.port}`;
  for (
    const { host, origin } of [url, options.publicUrl].filter((u) => u !== undefined).map((u) => new URL(u))
  ) {
    site.hosts.add(host.toLowerCase());
    site.origins.add(origin);
  }
  return { url, port: server.addr.port, close: () => server.shutdown() };
}

/**
 * FUNCTIONS_URL and PROVISIONER_SECRET from the environment (the secret also from supabase/functions/.env),
 * OPS_ACTOR and CONSOLE_PUBLIC_URL.
 */
export async function consoleSettings(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<Pick<ConsoleServerOptions, "functionsUrl" | "provisionerSecret" | "actor" | "publicUrl">> {
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
  const publicUrl = env.CONSOLE_PUBLIC_URL?.trim() || undefined;
  if (publicUrl !== undefined && !/^https?:\/\/[^/]+\/?$/.test(publicUrl)) {
    throw new ConsoleConfigError(
      "CONSOLE_PUBLIC_URL must be the URL operators open, scheme and host only (e.g. https://console.example.com)",
    );
  }
  return { functionsUrl, provisionerSecret, actor: env.OPS_ACTOR?.trim() || "console", publicUrl };
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
  CONSOLE_PORT         port (default ${DEFAULT_CONSOLE_PORT})
  CONSOLE_PUBLIC_URL   the URL operators open when a proxy serves the console under another name
                       (e.g. https://console.example.com): other host names are refused, and the
                       proxy's X-Actor on requests to that name replaces OPS_ACTOR`;

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
