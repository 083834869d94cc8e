/**
 * Calls to the functions through `@supabase/supabase-js`'s `functions.invoke`, with the provisioner secret,
 * the operator's `X-Actor`, and every failure turned into a {@link CliError} with a one-line message: a
 * missing variable names it, an unreachable URL names the URL, a refused secret says so. The admin API is
 * called through hono's typed client ({@link adminClient}), whose requests go the same way.
 *
 * @module
 */
import { createClient, FunctionsFetchError, FunctionsHttpError } from "@supabase/supabase-js";
import { hc } from "hono/client";
import type { ADMIN_FUNCTION, AdminRoutes } from "../../supabase/functions/_shared/admin/app.ts";
import { CliError, OperationError, UnreachableError, UsageError } from "./errors.ts";

/** One call to a function. */
export interface FunctionCall {
  /** The function, e.g. `fly-apps-admin`. */
  fn: string;
  method?: "GET" | "POST" | "PUT" | "DELETE";
  /** Path below the function, e.g. `/apps`. */
  path?: string;
  /** Query parameters (undefined values are left out). */
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON body. */
  body?: unknown;
}

/** Something that calls the functions (the real client, or a fake in tests). */
export interface FunctionsCaller {
  /** Calls a function and returns its JSON answer; throws a {@link CliError} on any failure. */
  call(request: FunctionCall): Promise<unknown>;
}

/** Where the functions are and how to authenticate, from the environment. */
export interface ClientSettings {
  /** `FUNCTIONS_URL`, e.g. `https://<ref>.supabase.co/functions/v1`. */
  functionsUrl: string;
  /** `PROVISIONER_SECRET`. */
  secret: string;
  /** The operator recorded in events (`X-Actor`). */
  actor?: string;
}

/** Reads `FUNCTIONS_URL` and `PROVISIONER_SECRET`, naming the first one missing or malformed. */
export function settingsFromEnv(env: Record<string, string | undefined>, actor?: string): ClientSettings {
  const functionsUrl = env.FUNCTIONS_URL?.trim();
  const secret = env.PROVISIONER_SECRET?.trim();
  const paste = "(deno task dev prints the line to paste)";
  if (!functionsUrl) {
    throw new UsageError(`FUNCTIONS_URL is not set: export FUNCTIONS_URL=…/functions/v1 ${paste}`);
  }
  if (!/^https?:\/\/[^/]+.*\/functions\/v1\/?$/.test(functionsUrl)) {
    throw new UsageError(`FUNCTIONS_URL must be an http(s) URL ending in /functions/v1, got ${functionsUrl}`);
  }
  if (!secret) throw new UsageError(`PROVISIONER_SECRET is not set: export PROVISIONER_SECRET=… ${paste}`);
  return { functionsUrl: functionsUrl.replace(/\/$/, ""), secret, actor };
}

/** The API's error message in a JSON answer (`{error: {code, message}}`), or the gateway's (`{message}`). */
function messageOf(body: unknown): string | undefined {
  const object = body as { error?: { message?: string; code?: string }; message?: string } | null;
  if (object && typeof object === "object") {
    if (object.error && typeof object.error === "object" && object.error.message) return object.error.message;
    if (typeof object.message === "string") return object.message;
  }
  return typeof body === "string" && body.trim() ? body.trim().slice(0, 300) : undefined;
}

/** The failure for a non-2xx answer of `url`. */
export function failureFor(status: number, body: unknown, url: string): CliError {
  const message = messageOf(body) ?? `HTTP ${status}`;
  if (status === 401 || status === 403) {
    return new UnreachableError(
      `${url} refused the provisioner secret (HTTP ${status}): check PROVISIONER_SECRET`,
    );
  }
  const gatewayCode = (body as { code?: string } | null)?.code;
  if (status === 404 && gatewayCode === "NOT_FOUND") {
    return new UnreachableError(`${url}: the function is not deployed (${message})`);
  }
  if (status === 400) return new UsageError(`invalid request: ${message}`);
  return new OperationError(`HTTP ${status}: ${message}`, status, body);
}

/** The real caller: supabase-js's `functions.invoke` on the project URL derived from `FUNCTIONS_URL`. */
export function createFunctionsCaller(settings: ClientSettings): FunctionsCaller {
  const projectUrl = settings.functionsUrl.replace(/\/functions\/v1$/, "");
  const supabase = createClient(projectUrl, settings.secret, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  const headers: Record<string, string> = {
    Authorization: `Bearer ${settings.secret}`,
    ...(settings.actor ? { "X-Actor": settings.actor } : {}),
  };
  return {
    async call(request) {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(request.query ?? {})) {
        if (value !== undefined) query.set(key, String(value));
      }
      const name = `${request.fn}${request.path ?? ""}${query.size ? `?${query}` : ""}`;
      const url = `${settings.functionsUrl}/${request.fn}${request.path ?? ""}`;
      const { data, error } = await supabase.functions.invoke(name, {
        method: request.method ?? "GET",
        body: request.body as Record<string, unknown> | undefined,
        headers,
      });
      if (!error) return data;
      if (error instanceof FunctionsHttpError) {
        const response = error.context as Response;
        const text = await response.text();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        throw failureFor(response.status, body, url);
      }
      if (error instanceof FunctionsFetchError) {
        const cause = (error.context as Error | undefined)?.message ?? "network error";
        throw new UnreachableError(`cannot reach ${url}: ${cause.split("\n")[0]}`);
      }
      throw new CliError(`calling ${url} failed: ${(error as Error).message}`, 3);
    },
  };
}

/** The admin function's name (typed as the server's, so a rename fails to compile here). */
export const ADMIN: typeof ADMIN_FUNCTION = "fly-apps-admin";

/** The admin API's typed client: one method per route, its input and answer typed from the routes. */
export type AdminClient = ReturnType<typeof hc<AdminRoutes>>;

/** The origin the typed client builds its URLs on; only their path and query reach {@link FunctionsCaller}. */
const CLIENT_ORIGIN = "http://functions.invalid";

/** A `fetch` that hands each request to `caller` and wraps its JSON answer (failures throw from `caller`). */
function fetchThrough(caller: FunctionsCaller): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const [fn, ...rest] = url.pathname.slice(1).split("/");
    const body = typeof init?.body === "string" ? JSON.parse(init.body) : undefined;
    const data = await caller.call({
      fn,
      method: (init?.method ?? "GET") as FunctionCall["method"],
      path: rest.length > 0 ? `/${rest.join("/")}` : undefined,
      ...(url.searchParams.size > 0 ? { query: Object.fromEntries(url.searchParams) } : {}),
      ...(body !== undefined ? { body } : {}),
    });
    return Response.json(data ?? null);
  };
}

/** The admin API's typed client, calling through `caller` (supabase-js's `functions.invoke`, or a fake). */
export function adminClient(caller: FunctionsCaller): AdminClient {
  return hc<AdminRoutes>(`${CLIENT_ORIGIN}/${ADMIN}`, { fetch: fetchThrough(caller) });
}
