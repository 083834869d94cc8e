/**
 * The hono app factory shared by the functions.
 *
 * Every app: request id (incoming `x-request-id` or generated, returned as a header) → one JSON log line per
 * request → configuration (loaded on first request; a broken configuration answers 500 `misconfigured` and is
 * logged by variable name) → 405 for a known path with another method → auth by secret (the admin secret
 * opens everything; the kick secret only a background POST of the per-user functions and the sweep) → 64 KiB body
 * limit → the routes: `POST /<name>` and `GET /<name>`, also under `/functions/v1/<name>`, with or without a
 * trailing slash.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { type Config, configSecrets, loadConfig } from "../config.ts";
import { createLogger, type Logger, type LoggerOptions } from "../log.ts";
import { kickMayPostInBackground, type KickPolicy, requireSecret } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { HttpError, onError, onNotFound } from "./errors.ts";
import { type BodyOf, FUNCTION_SCHEMAS, type FunctionName, type QueryOf, waitQuery } from "./schemas.ts";
import { readJsonBody, readQuery } from "./validate.ts";

/** Validated input of a POST: the body, and whether the caller asked to wait for the result. */
export interface PostInput<N extends FunctionName> {
  /** The validated JSON body. */
  body: BodyOf<N>;
  /** `?wait=true`: answer with the final state; otherwise answer 202 and continue in the background. */
  wait: boolean;
}

/** The pluggable handlers of one function; input is already authenticated and validated. */
export interface FunctionHandlers<N extends FunctionName> {
  /** `POST /<name>`. */
  post(input: PostInput<N>, c: Context<AppEnv>): Response | Promise<Response>;
  /** `GET /<name>` (status for ops). */
  get(query: QueryOf<N>, c: Context<AppEnv>): Response | Promise<Response>;
}

/** Options of {@link createFunctionApp}. */
export interface FunctionAppOptions<N extends FunctionName> {
  /** The function's name (its route). */
  name: N;
  /** Its handlers. */
  handlers: FunctionHandlers<N>;
  /** Environment to load the configuration from. Default: the process environment, read on first request. */
  env?: Record<string, string>;
  /** Where log lines go (tests). Default: the console. */
  logSink?: LoggerOptions["sink"];
}

/** Largest accepted request body: the bodies are a few small fields. */
const MAX_BODY_BYTES = 64 * 1024;

/** The configuration and base logger of an app, built once on the first request that succeeds. */
interface Runtime {
  config: Config;
  log: Logger;
}

/** One JSON log line per request (level `error` for a 5xx), written after the response is ready. */
function requestLog(fallback: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const log = c.get("log") ?? fallback.child({ request_id: c.get("requestId") });
    const write = c.res.status >= 500 ? log.error : log.info;
    write("request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round(performance.now() - started),
    });
  };
}

/** Sets `config` and `log` on the context, loading the configuration on first use. */
function withRuntime(options: BaseAppOptions, fallback: Logger): MiddlewareHandler<AppEnv> {
  const { name, env, logSink } = options;
  let runtime: Runtime | undefined;
  const load = (): Runtime => {
    const config = loadConfig(env ?? Deno.env.toObject());
    const log = createLogger({
      level: config.logLevel,
      secrets: configSecrets(config),
      fields: { function: name },
      sink: logSink,
    });
    return { config, log };
  };
  return async (c, next) => {
    try {
      runtime ??= load();
    } catch (error) {
      fallback.error("invalid configuration", { request_id: c.get("requestId"), error });
      throw new HttpError(500, "misconfigured", "the function is misconfigured; see its logs");
    }
    c.set("config", runtime.config);
    c.set("log", runtime.log.child({ request_id: c.get("requestId") }));
    await next();
  };
}

/** Options of {@link createBaseApp}: a function's name, and where its configuration and logs come from. */
export type BaseAppOptions = Pick<FunctionAppOptions<FunctionName>, "env" | "logSink"> & {
  /** The function's name (its route). */
  name: string;
  /** What the kick secret may call here (default: nothing; the admin function keeps the default). */
  kickPolicy?: KickPolicy;
};

/**
 * A function's hono app with the shared pipeline (request id, request log, configuration, 405, auth, body
 * limit, JSON errors) and no routes yet; `routes` is mounted at `/<name>` and `/functions/v1/<name>`.
 */
export function createBaseApp(options: BaseAppOptions, routes: Hono<AppEnv>): Hono<AppEnv> {
  const { name } = options;
  const fallback = createLogger({ fields: { function: name }, sink: options.logSink });
  const app = new Hono<AppEnv>({ strict: false });
  app.use(requestId());
  app.use(requestLog(fallback));
  app.use(withRuntime(options, fallback));
  app.use(methodNotAllowed({
    app,
    onMethodNotAllowed: (_c, methods) => {
      throw new HttpError(405, "method_not_allowed", `method not allowed; use ${methods.join(" or ")}`, {
        headers: { Allow: methods.join(", ") },
      });
    },
  }));
  app.use(requireSecret(options.kickPolicy));
  app.use(bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new HttpError(413, "payload_too_large", `request body exceeds ${MAX_BODY_BYTES} bytes`);
    },
  }));
  app.route(`/${name}`, routes);
  app.route(`/functions/v1/${name}`, routes);
  app.notFound(onNotFound);
  app.onError(onError);
  return app;
}

/** Build the hono app of function `name` with `handlers` plugged in; see the module doc for the pipeline. */
export function createFunctionApp<N extends FunctionName>(options: FunctionAppOptions<N>): Hono<AppEnv> {
  const { name, handlers } = options;
  const schemas = FUNCTION_SCHEMAS[name];
  const routes = new Hono<AppEnv>({ strict: false })
    .post("/", async (c) => {
      const { wait } = readQuery(c, waitQuery);
      const body = await readJsonBody(c, schemas.body) as BodyOf<N>;
      return await handlers.post({ body, wait }, c);
    })
    .get("/", async (c) => await handlers.get(readQuery(c, schemas.query) as QueryOf<N>, c));
  return createBaseApp({ ...options, kickPolicy: kickMayPostInBackground }, routes);
}
