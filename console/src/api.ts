/**
 * The browser's client of the admin API: hono's typed client, typed by the `fly-apps-admin` routes. Every
 * call goes to `/api/*` on the console's own origin: the console server proxies it to the function and adds
 * the provisioner secret there, so the page never holds it. A call that changes something carries the
 * console server's token (`X-Console-Token`, read once from `/console-token.json`; read again once when the
 * server refuses it, e.g. after a restart) and `Content-Type: application/json`, which the server requires of
 * its own page. Errors come back as {@link ApiError} with the API's `{error: {code, message, field?}}`.
 *
 * @module
 */
import { hc, type InferRequestType, parseResponse } from "hono/client";
import type { AdminRoutes } from "../../supabase/functions/_shared/admin/app.ts";
import { TOKEN_HEADER, TOKEN_PATH, TOKEN_REFUSED } from "./session.ts";

/** An answer other than 2xx, or a network failure (status 0). */
export class ApiError extends Error {
  /** HTTP status (0: no answer). */
  readonly status: number;
  /** The API's error code. */
  readonly code: string;

  /** An error from the status, the API's code and its message. */
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The failure for a non-2xx answer: the API's message (and field), or the status. */
async function failureOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  let body: { error?: { code?: string; message?: string; field?: string } } | null = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const detail = body?.error;
  return new ApiError(
    response.status,
    detail?.code ?? "http_error",
    detail?.message
      ? `${detail.message}${detail.field ? ` (${detail.field})` : ""}`
      : `HTTP ${response.status}`,
  );
}

/** The console server's token, once read; none when the page is served without the console server. */
let token: Promise<string | undefined> | undefined;

/** Reads the token (again, with `fresh`). */
function consoleToken(fresh = false): Promise<string | undefined> {
  if (fresh || token === undefined) {
    token = fetch(TOKEN_PATH, { cache: "no-store" })
      .then(async (response) => response.ok ? (await response.json()).token as string : undefined)
      .catch(() => undefined);
  }
  return token;
}

/** `fetch` with the token on a call that changes something (read again once if the server refused it). */
async function fetchWithToken(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const method = (init.method ?? "GET").toUpperCase();
  if (method === "GET" || method === "HEAD") return await fetch(input, init);
  const send = async (fresh: boolean) => {
    const headers = new Headers(init.headers);
    const value = await consoleToken(fresh);
    if (value) headers.set(TOKEN_HEADER, value);
    return await fetch(input, { ...init, headers });
  };
  const response = await send(false);
  if (response.status !== 403) return response;
  const refusal = await response.clone().json().catch(() => null);
  return refusal?.error?.code === TOKEN_REFUSED ? await send(true) : response;
}

/** `fetch` that turns a network failure or a non-2xx answer into an {@link ApiError}. */
async function checkedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetchWithToken(input, init);
  } catch (error) {
    throw new ApiError(0, "network", `the console server did not answer (${(error as Error).message})`);
  }
  if (!response.ok) throw await failureOf(response);
  return response;
}

/** Query parameters without the empty ones (an unset filter is `""` or null in the screens' state). */
function searchParams(query: Record<string, string | string[]>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    const text = value as unknown;
    if (text !== undefined && text !== null && text !== "") params.set(key, String(text));
  }
  return params;
}

/** The admin API, one method per route (`admin.apps[":user_id"].$get({param, query})`). */
const admin = hc<AdminRoutes>("/api", { fetch: checkedFetch, buildSearchParams: searchParams });

/** The JSON answer of a call on {@link admin}, typed by its route. */
const answer = parseResponse;

/** The query of `GET /apps` (filters, sort, paging). */
export type AppListQuery = InferRequestType<typeof admin.apps.$get>["query"];

/** The body of `POST /rollouts`. */
export type RolloutRequest = InferRequestType<typeof admin.rollouts.$post>["json"];

/** The body of `PUT /apps/:user_id/override`. */
export type OverrideRequest = InferRequestType<(typeof admin.apps)[":user_id"]["override"]["$put"]>["json"];

/** The per-user actions the console offers. */
export type AppAction = "retry" | "hold" | "release" | "restart" | "snapshot" | "restore" | "revert";

/** Every call the screens make, each typed by its route: a wrong path or body fails `deno check` here. */
export const calls = {
  /** A page of app rows. */
  apps: (query: AppListQuery) => answer(admin.apps.$get({ query })),
  /** One user's detail, with the machines as Fly reports them now. */
  app: (userId: string) =>
    answer(admin.apps[":user_id"].$get({ param: { user_id: userId }, query: { live: "true" } })),
  /** A page of one user's events, newest first (`before`: page on). */
  userEvents: (userId: string, page: { limit: number; before?: number }) =>
    answer(admin.apps[":user_id"].events.$get({ param: { user_id: userId }, query: page })),
  /** A per-user action, recorded as the console's, with the operator's reason when one was asked for. */
  appAction: (action: AppAction, userId: string, reason = "console") => {
    const route = admin.apps[":user_id"];
    const args = { param: { user_id: userId }, json: { reason } };
    if (action === "retry") return answer(route.retry.$post(args));
    if (action === "restart") return answer(route.restart.$post(args));
    if (action === "snapshot") return answer(route.snapshots.$post(args));
    if (action === "restore" || action === "revert") {
      return answer(route.restore.$post({ ...args, json: { reason, revert: action === "revert" } }));
    }
    return answer(route[action].$post(args));
  },
  /** Sets a user's ops override (size, region, image; at least one), applied at once. */
  setOverride: (userId: string, fields: OverrideRequest) =>
    answer(admin.apps[":user_id"].override.$put({ param: { user_id: userId }, json: fields })),
  /** Clears a user's ops override: they run their plan again. */
  clearOverride: (userId: string, reason = "console") =>
    answer(admin.apps[":user_id"].override.$delete({ param: { user_id: userId }, json: { reason } })),
  /** Every row in error or failed becomes due now. */
  retryFailed: () =>
    answer(admin.retry.$post({ json: { statuses: ["error", "failed"], reason: "console" } })),
  /** The fleet's figures. */
  summary: () => answer(admin.summary.$get()),
  /** This month's usage and costs. */
  usage: () => answer(admin.usage.$get({ query: {} })),
  /** Fleet-wide events of some types (comma-separated). */
  fleetEvents: (query: { type: string; limit: number }) => answer(admin.events.$get({ query })),
  /** The latest sweep runs. */
  sweepRuns: (limit: number) => answer(admin["sweep-runs"].$get({ query: { limit } })),
  /** The last sweep's orphan apps. */
  orphans: () => answer(admin.orphans.$get()),
  /** The rollouts, newest first. */
  rollouts: () => answer(admin.rollouts.$get({ query: {} })),
  /** One rollout's batches and events. */
  rollout: (id: string) => answer(admin.rollouts[":id"].$get({ param: { id } })),
  /** Machines per tier and image digest, and the active rollout's target. */
  versions: () => answer(admin.versions.$get()),
  /** Starts a rollout. */
  startRollout: (body: RolloutRequest) => answer(admin.rollouts.$post({ json: body })),
  /** Pauses, resumes, aborts or rolls back a rollout. */
  rolloutAction: (id: string, action: "pause" | "resume" | "abort" | "rollback") =>
    answer(admin.rollouts[":id"][":action"].$post({ param: { id, action }, json: {} })),
};
