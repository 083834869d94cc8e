/**
 * Read routes of the admin API over the app rows: the list (filters, sort, cursor paging), one user's
 * detail (row, plan, costs, hold, drift, last observation, optionally the live machines from Fly), one
 * user's events, the fleet's recent events and the summary figures.
 *
 * @module
 */
import { Hono } from "hono";
import type { JsonRow } from "../db/admin.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpError } from "../http/errors.ts";
import { paramsOf, queryOf } from "../http/validate.ts";
import type { Machine } from "../fly/mod.ts";
import type { EngineDeps } from "../engine/context.ts";
import { FlyNotFoundError } from "../fly/mod.ts";
import { adminRepo, engine } from "./request.ts";
import {
  appDetailQuery,
  appListQuery,
  encodeCursor,
  fleetEventsQuery,
  userEventsQuery,
  userIdParam,
} from "./schemas.ts";

/** Days of runtime history in a user's detail. */
const USAGE_DAYS = 31;

/** What the detail says about deprovisioning: never offered by hand, the tier decides. */
function deprovisionNote(tier: string | null, plan: JsonRow | null): { offered: false; reason: string } {
  if (plan?.dedicated_app) {
    return {
      offered: false,
      reason: `the tier decides: ${tier} includes a dedicated app; downgrade the subscription to remove it`,
    };
  }
  return {
    offered: false,
    reason: `the tier decides: ${
      tier ?? "no subscription"
    } has no dedicated app, so the controller removes it`,
  };
}

/** A machine as the detail shows it. */
function machineSummary(machine: Machine): JsonRow {
  return {
    id: machine.id,
    state: machine.state,
    region: machine.region,
    image: machine.config.image,
    image_digest: machine.image_ref?.digest ?? null,
    guest: machine.config.guest ?? null,
    checks: (machine.checks ?? []).map((check) => ({ name: check.name, status: check.status })),
    metadata: machine.config.metadata ?? {},
    updated_at: machine.updated_at ?? null,
  };
}

/** The app's machines as Fly reports them now, or why they could not be listed. */
async function liveMachines(deps: EngineDeps, appName: string | null): Promise<JsonRow> {
  if (!appName) return { machines: [], note: "no app recorded yet" };
  try {
    return { machines: (await deps.fly.machines.list(appName)).map(machineSummary) };
  } catch (error) {
    if (error instanceof FlyNotFoundError) {
      return { machines: [], note: `app ${appName} does not exist on Fly` };
    }
    return { machines: null, error: (error as Error).message };
  }
}

/** The read routes over apps and events. */
export const appsRoutes = new Hono<AppEnv>({ strict: false })
  .get("/apps", queryOf(appListQuery), async (c) => {
    const { cursor, ...query } = c.req.valid("query");
    const repo = adminRepo(c);
    if (query.tier !== undefined) {
      // An unknown tier is bad input (as for a rollout), not an empty list.
      const tiers = await repo.tiers();
      if (!tiers.includes(query.tier)) {
        throw new HttpError(400, "invalid_request", `tier must be one of ${tiers.join(", ")}`, {
          field: "tier",
        });
      }
    }
    const { apps, more } = await repo.listApps({ ...query, after: cursor });
    const last = apps.at(-1);
    return c.json({
      apps: apps.map(({ sort_value: _, ...app }) => app),
      next_cursor: more && last ? encodeCursor(last as { id: unknown; sort_value: unknown }) : null,
    });
  })
  .get("/apps/:user_id", paramsOf(userIdParam), queryOf(appDetailQuery), async (c) => {
    const { user_id } = c.req.valid("param");
    const { live } = c.req.valid("query");
    const repo = adminRepo(c);
    const { app, tier, plan } = await repo.appDetail(user_id);
    if (!app && !tier) throw new HttpError(404, "not_found", "no subscription or app is known for this user");
    return c.json({
      user_id,
      tier,
      plan,
      app,
      hold: app?.held_at ? { held_at: app.held_at, held_by: app.held_by, reason: app.hold_reason } : null,
      override: app?.override ?? null,
      drift: app?.drift ?? {},
      last_observation: app
        ? { machine_state: app.last_machine_state, observed_at: app.last_observed_at }
        : null,
      costs: {
        estimated_monthly_usd: app?.monthly_cost_estimate_usd ?? null,
        plan_monthly_usd: plan?.monthly_cost_estimate_usd ?? null,
        running_days: await repo.userUsageDays(user_id, USAGE_DAYS),
      },
      actions: { deprovision: deprovisionNote(tier, plan) },
      live: live ? await liveMachines(engine(c), (app?.fly_app_name as string | null) ?? null) : undefined,
    });
  })
  .get("/apps/:user_id/events", paramsOf(userIdParam), queryOf(userEventsQuery), async (c) => {
    const { user_id } = c.req.valid("param");
    const { limit, before } = c.req.valid("query");
    const events = await adminRepo(c).userEvents(user_id, limit, before);
    return c.json({ events, next_before: events.length === limit ? events.at(-1)?.seq : null });
  })
  .get("/events", queryOf(fleetEventsQuery), async (c) => {
    const { limit, before, type, status } = c.req.valid("query");
    const events = await adminRepo(c).fleetEvents({ types: type, status, limit, before });
    return c.json({ events, next_before: events.length === limit ? events.at(-1)?.seq : null });
  })
  .get("/summary", async (c) => c.json(await adminRepo(c).summary()));
