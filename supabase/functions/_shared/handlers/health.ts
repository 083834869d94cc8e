/**
 * Handlers of `check-fly-apps-health`. POST runs one sweep: 202 at once with the sweep in the background
 * (pg_cron), or with `?wait=true` the sweep's report (ops). The body may lower the configured limit, detail
 * limit and budget. GET summarises the rows by status and health, with the last sweep runs.
 *
 * @module
 */
import type { Context } from "hono";
import { runInBackground } from "../http/background.ts";
import type { AppEnv } from "../http/env.ts";
import type { FunctionHandlers } from "../http/app.ts";
import { flyFleetLister } from "../sweep/fleet_listing.ts";
import { runHealthSweep } from "../sweep/sweep.ts";
import { engineDeps } from "./engine_deps.ts";
import { getSql } from "../db/client.ts";
import { RolloutsRepository } from "../db/fly_rollouts.ts";

/** The health function's handlers. */
export const healthHandlers: FunctionHandlers<"check-fly-apps-health"> = {
  async post({ body, wait }, c: Context<AppEnv>) {
    const config = c.get("config");
    const log = c.get("log");
    const deps = engineDeps(config, log);
    const limit = Math.min(body.limit ?? config.sweep.limit, config.sweep.limit);
    const budgetMs = Math.min(body.budget_ms ?? config.sweep.budgetMs, config.sweep.budgetMs);
    const detailLimit = Math.min(body.detail_limit ?? config.sweep.detailLimit, config.sweep.detailLimit);
    const options = {
      owner: `check-fly-apps-health:${c.get("requestId")}`,
      limit,
      budgetMs,
      detailLimit,
      lister: flyFleetLister(deps.fly, config.fly.orgSlug),
      rollouts: new RolloutsRepository(getSql(config.db)),
    };
    if (!wait) {
      const sweep = runHealthSweep(deps, options).then((report) => log.info("sweep finished", { report }));
      runInBackground("health sweep", sweep, log);
      return c.json(
        {
          accepted: true,
          request_id: c.get("requestId"),
          limit,
          budget_ms: budgetMs,
          detail_limit: detailLimit,
        },
        202,
      );
    }
    return c.json(await runHealthSweep(deps, options), 200);
  },
  async get(_query, c: Context<AppEnv>) {
    const deps = engineDeps(c.get("config"), c.get("log"));
    return c.json({
      apps: await deps.repo.status.summary(),
      recent_runs: await deps.repo.sweeps.recentSweepRuns(5),
    }, 200);
  },
};
