/**
 * Cost routes of the admin API: the price table (read, and one price set by ops: plans and rows are
 * re-estimated at once) and usage per user and plan for a month (estimated vs observed from runtime).
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";
import { HttpError } from "../http/errors.ts";
import { jsonBody, paramsOf, queryOf } from "../http/validate.ts";
import { actorOf, adminRepo } from "./request.ts";
import { priceBody, priceItemParam, usageQuery } from "./schemas.ts";

/** The current UTC month as `YYYY-MM`. */
function currentMonth(): string {
  return new Date().toISOString().slice(0, 7);
}

/** The cost routes. */
export const costRoutes = new Hono<AppEnv>({ strict: false })
  .get("/prices", async (c) => c.json({ prices: await adminRepo(c).prices() }))
  .put("/prices/:item", paramsOf(priceItemParam), jsonBody(priceBody), async (c) => {
    const { item } = c.req.valid("param");
    const actor = actorOf(c);
    const { monthly_usd, source } = c.req.valid("json");
    const updated = await adminRepo(c).setPrice(item, monthly_usd, source ?? `set by ${actor}`);
    if (!updated) throw new HttpError(404, "not_found", `no price ${item}`);
    c.get("log").info("price changed", { item, monthly_usd, actor });
    return c.json({ prices: await adminRepo(c).prices(), actor });
  })
  .get("/usage", queryOf(usageQuery), async (c) => {
    const month = c.req.valid("query").month ?? currentMonth();
    const { users, plans } = await adminRepo(c).usage(`${month}-01`);
    const total = (key: string) => Math.round(users.reduce((sum, u) => sum + Number(u[key]), 0) * 100) / 100;
    return c.json({
      month,
      users,
      plans,
      totals: {
        users: users.length,
        estimated_monthly_usd: total("estimated_monthly_usd"),
        running_hours: total("running_hours"),
        observed_usd: total("observed_usd"),
        always_on_usd: total("always_on_usd"),
        snapshot_gb: Math.round(users.reduce((sum, u) => sum + Number(u.snapshot_gb), 0) * 1000) / 1000,
        snapshot_monthly_usd: total("snapshot_monthly_usd"),
        kept_volume_monthly_usd: total("kept_volume_monthly_usd"),
      },
    });
  });
