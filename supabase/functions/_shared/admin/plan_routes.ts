/**
 * Plan routes of the admin API: `PUT /plans/:tier/idle-action {idle_action, reason?}` sets what Fly's proxy
 * does with the plan's idle machines (`off`, `stop`, `suspend`). `suspend` is checked against Fly's limits on
 * the machine config the plan gives (at most 2 GB of memory, no swap, no schedule): a plan outside them is a
 * 400 naming the reasons, and nothing is written. 404 for a tier without a dedicated app. A change makes the
 * tier's machines due, each with a `retry_requested` event naming the actor: their reconciles apply the new
 * services at Fly's rate limits.
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";
import { HttpError } from "../http/errors.ts";
import { jsonBody, paramsOf } from "../http/validate.ts";
import { PlanSchema } from "../db/user_fly_apps.ts";
import { desiredMachineConfig } from "../engine/machine_spec.ts";
import { suspendRefusals } from "../engine/idle.ts";
import { actorOf, adminRepo, sqlAction } from "./request.ts";
import { idleActionBody, tierParam } from "./schemas.ts";

/** The plan routes. */
export const planRoutes = new Hono<AppEnv>({ strict: false })
  .put("/plans/:tier/idle-action", paramsOf(tierParam), jsonBody(idleActionBody), async (c) => {
    const { tier } = c.req.valid("param");
    const { idle_action, reason } = c.req.valid("json");
    const actor = actorOf(c);
    const repo = adminRepo(c);
    const row = await repo.dedicatedPlan(tier);
    if (!row) throw new HttpError(404, "not_found", `no plan with a dedicated app for tier ${tier}`);
    if (idle_action === "suspend") {
      const plan = PlanSchema.parse(row);
      const config = desiredMachineConfig({
        userId: "plan-check",
        plan: { ...plan, idle_action },
        image: plan.image ?? c.get("config").fly.appImage,
        createToken: "",
      });
      const refusals = suspendRefusals(config);
      if (refusals.length > 0) {
        throw new HttpError(400, "invalid_request", refusals.join("; "), { field: "idle_action" });
      }
    }
    const changed = await sqlAction(() => repo.setIdleAction(tier, idle_action, { actor, reason }));
    c.get("log").info("plan idle action set", { ...changed, actor, reason });
    return c.json({ ...changed, actor });
  });
