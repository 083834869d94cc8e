/**
 * Handlers of `check-fly-apps-health`. POST runs one sweep: 202 at once with the sweep in the background
 * (pg_cron), or with `?wait=true` the sweep's report (ops). The body may lower the configured limit, detail
 * limit and budget. GET summarises the rows by status and health, with the last sweep runs.
 *
 * One sweep at a time: a POST first takes the sweep lease (private.take_sweep_lease, held for the budget plus
 * a margin and given back when the sweep ends). While another sweep holds it, a background POST joins that
 * sweep (202 `{accepted: false, joined: true}`) and a `?wait=true` POST answers 409 `sweep_in_progress`.
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
import { attemptOwner } from "../http/lease_owner.ts";
import { getSql } from "../db/client.ts";
import { RolloutsRepository } from "../db/fly_rollouts.ts";
import { HttpError } from "../http/errors.ts";

/** Seconds the sweep lease outlives the sweep's budget (a crashed sweep frees it this long after). */
const SWEEP_LEASE_MARGIN_S = 30;

/** The health function's handlers. */
export const healthHandlers: FunctionHandlers<"check-fly-apps-health"> = {
  async post({ body, wait }, c: Context<AppEnv>) {
    const config = c.get("config");
    const log = c.get("log");
    const deps = engineDeps(config, log);
    const limit = Math.min(body.limit ?? config.sweep.limit, config.sweep.limit);
    const budgetMs = Math.min(body.budget_ms ?? config.sweep.budgetMs, config.sweep.budgetMs);
    const detailLimit = Math.min(body.detail_limit ?? config.sweep.detailLimit, config.sweep.detailLimit);
    const owner = attemptOwner("check-fly-apps-health");
    const lease = await deps.repo.sweeps.takeSweepLease(
      owner,
      Math.ceil(budgetMs / 1000) + SWEEP_LEASE_MARGIN_S,
    );
    if (!lease.taken) {
      const running = { held_by: lease.heldBy, since: lease.heldSince };
      if (wait) {
        throw new HttpError(
          409,
          "sweep_in_progress",
          `a sweep is running (since ${lease.heldSince}); try later`,
        );
      }
      log.info("a sweep is running: this call joins it", running);
      return c.json({
        accepted: false,
        joined: true,
        request_id: c.get("requestId"),
        running_since: lease.heldSince,
      }, 202);
    }
    const release = () =>
      deps.repo.sweeps.releaseSweepLease(owner).catch((error) =>
        log.warn("could not give the sweep lease back (it expires by itself)", { error })
      );
    const options = {
      owner,
      limit,
      budgetMs,
      detailLimit,
      lister: flyFleetLister(deps.fly, config.fly.orgSlug),
      rollouts: new RolloutsRepository(getSql(config.db)),
    };
    if (!wait) {
      const sweep = runHealthSweep(deps, options).then((report) => log.info("sweep finished", { report }))
        .finally(release);
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
    try {
      return c.json(await runHealthSweep(deps, options), 200);
    } finally {
      await release();
    }
  },
  async get(_query, c: Context<AppEnv>) {
    const deps = engineDeps(c.get("config"), c.get("log"));
    return c.json({
      apps: await deps.repo.status.summary(),
      recent_runs: await deps.repo.sweeps.recentSweepRuns(5),
    }, 200);
  },
};
