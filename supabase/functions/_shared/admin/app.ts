/**
 * The `fly-apps-admin` API: JSON routes for the ops CLI and the web console. Same pipeline as the other
 * functions (provisioner secret, JSON errors `{error: {code, message, field?}}`, zod-validated input: 400
 * naming the field, nothing written). Routes are relative to `/functions/v1/fly-apps-admin`. Every action
 * writes an event naming the actor: `ops:<X-Actor header>`, or `ops` without the header.
 *
 * Apps and events (read):
 * - `GET /apps?status=&health=&tier=&region=&image=&drift=&in_sync=&held=&q=&sort=&order=&limit=&cursor=`
 *   → `{apps: [row + email + tier], next_cursor}`; `sort` ∈ updated_at, created_at, user_id, status, health,
 *   retry_count, cost; `q` searches user id, email and app name; pass `next_cursor` back as `cursor`.
 * - `GET /apps/:user_id?live=true` → `{user_id, tier, plan, app, hold, drift, last_observation, costs:
 *   {estimated_monthly_usd, plan_monthly_usd, running_days}, actions: {deprovision: {offered: false,
 *   reason}}, live?: {machines}}` (404 when neither a row nor a subscription is known).
 * - `GET /apps/:user_id/events?limit=&before=` and `GET /events?type=a,b&status=&limit=&before=` →
 *   `{events, next_before}` newest first (page on with `before=next_before`).
 * - `GET /summary` → `{total, active, errors, failed, pending, held, out_of_sync, drifted, unhealthy,
 *   estimated_monthly_cost_usd}`.
 *
 * Actions:
 * - `POST /apps/:user_id/retry {reason?}` → clears the error, due now, reconciles now →
 *   `{user_id, actor, reconcile: {outcome, ...}}` (502 when the reconcile failed).
 * - `POST /retry {statuses: ["error"], limit?, reason?}` → 202 `{retried, user_ids}`: due now, reconciled by
 *   the controller at the rate limits.
 * - `POST /apps/:user_id/hold {reason?}`, `POST /apps/:user_id/release` → `{held, held_at, reconcile}`
 *   (409 holding a user without an app).
 * - `POST /apps/:user_id/restart {reason?}` → `{restarted: true, machine_id}` (409 while held or without a
 *   machine).
 *
 * Orphans: `GET /orphans` → the last sweep run's orphan apps `{sweep_run, orphans: [{name, user_id, tier,
 * paid_user, in_flight, deleted_by_sweep}]}`; `DELETE /orphans/:name` → `{deleted: true}`, 409 while it may
 * belong to a reconcile in flight or a paid user, 404 when Fly has no such app.
 *
 * Costs: `GET /prices`; `PUT /prices/:item {monthly_usd, source?}` (plans and rows re-estimated);
 * `GET /usage?month=YYYY-MM` → `{month, users, plans, totals}` (estimated vs observed from runtime).
 *
 * Fleet: `GET /sweep-runs?limit=` → `{runs}`; `GET /migrate` → progress of paid users; `POST /migrate
 * {batch}` → due rows for up to `batch` paid users without an app, `{enqueued, user_ids, progress}`;
 * `GET /doctor` → `{ok, checks: [{name, ok, detail}]}`.
 *
 * Rollouts (see `rollout_routes.ts`): `POST /rollouts {image?, plan?, tier?, canary?, batch?, max_unavailable?,
 * max_failures?, health_timeout_s?, reason?}` → 201 `{rollout}`; `GET /rollouts` → `{rollouts}`;
 * `GET /rollouts/:id` → `{rollout, batches, events}`; `POST /rollouts/:id/{pause|resume|abort|rollback}` →
 * `{changed, rollout}`.
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
import { rolloutRoutes } from "./rollout_routes.ts";

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
  .route("/", fleetRoutes)
  .route("/", rolloutRoutes);

/** The admin API's type, for hono's typed client: `hc<AdminRoutes>(base)` (the ops CLI, the console). */
export type AdminRoutes = typeof adminRoutes;

/** Build the admin function's hono app (options as for the other functions: environment and log sink). */
export function createAdminApp(options: Pick<FunctionAppOptions<FunctionName>, "env" | "logSink"> = {}) {
  return createBaseApp({ ...options, name: ADMIN_FUNCTION }, adminRoutes);
}
