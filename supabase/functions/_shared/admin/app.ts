/**
 * The `fly-apps-admin` API: JSON routes for the ops CLI and the web console, relative to
 * `/functions/v1/fly-apps-admin`. Each route's path, parameters, query, body and answers are its types
 * ({@link AdminRoutes}, read by hono's typed client); what the types cannot say is here.
 *
 * - Same pipeline as the other functions: provisioner secret, JSON errors `{error: {code, message, field?}}`,
 *   invalid input 400 naming the field with nothing written, an unknown row 404, a body not declared
 *   `Content-Type: application/json` 415.
 * - Only what a route knows: a body field or query parameter it does not take is a 400 naming it, and a
 *   number out of range is a 400 (a default applies only to a value left out).
 * - Every action writes an event naming the actor: `claimed:<X-Actor header>` (a name the admin-secret holder
 *   claims; the console or an SSO proxy sets it), or `ops` without the header.
 * - Paging: `GET /apps` returns `next_cursor` (pass it back as `cursor`); the event lists return `next_before`
 *   (pass it back as `before`), newest first.
 * - `POST /apps/:user_id/retry` reconciles at once (502 when that reconcile failed); `POST /retry` answers 202:
 *   the rows are due now and the controller reconciles them at Fly's rate limits.
 * - `POST /apps/:user_id/snapshots` answers 201 once the snapshot is created, 202 while Fly is still taking it.
 * - Refusals are 409: holding a user without an app or one already held (the answer names who holds it, since
 *   when and why; `replace: true` takes the hold over), restarting a held machine or one not recorded yet,
 *   deleting an orphan that may belong to a reconcile in flight or a paid user, a rollout its state refuses.
 *
 * @module
 */
import { Hono } from "hono";
import { createBaseApp, type FunctionAppOptions } from "../http/app.ts";
import type { AppEnv } from "../http/env.ts";
import type { FunctionName } from "../http/schemas.ts";
import { actionRoutes } from "./action_routes.ts";
import { appsRoutes } from "./apps_routes.ts";
import { costRoutes } from "./cost_routes.ts";
import { fleetRoutes } from "./fleet_routes.ts";
import { orphanRoutes } from "./orphan_routes.ts";
import { planRoutes } from "./plan_routes.ts";
import { rolloutRoutes } from "./rollout_routes.ts";
import { snapshotRoutes } from "./snapshot_routes.ts";

/** The function's name. */
export const ADMIN_FUNCTION = "fly-apps-admin";

/**
 * The API's routes, relative to the function, chained so that their type describes the whole API: each
 * route's path, its validated parameters, query and JSON body, and its answers.
 */
export const adminRoutes = new Hono<AppEnv>({ strict: false })
  .route("/", appsRoutes)
  .route("/", actionRoutes)
  .route("/", orphanRoutes)
  .route("/", costRoutes)
  .route("/", planRoutes)
  .route("/", fleetRoutes)
  .route("/", rolloutRoutes)
  .route("/", snapshotRoutes);

/** The admin API's type, for hono's typed client: `hc<AdminRoutes>(base)` (the ops CLI, the console). */
export type AdminRoutes = typeof adminRoutes;

/** Build the admin function's hono app (options as for the other functions: environment and log sink). */
export function createAdminApp(options: Pick<FunctionAppOptions<FunctionName>, "env" | "logSink"> = {}) {
  return createBaseApp({ ...options, name: ADMIN_FUNCTION }, adminRoutes);
}
