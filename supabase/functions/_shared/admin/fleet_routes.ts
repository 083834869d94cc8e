/**
 * Fleet routes of the admin API: recent sweep runs, the migration of existing paid users (enqueue a batch,
 * read progress) and the doctor's checks.
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";
import { jsonBody, queryOf } from "../http/validate.ts";
import { databaseChecks, flyChecks, sha256Hex } from "./doctor.ts";
import { actorOf, adminRepo, engine } from "./request.ts";
import { migrateBody, sweepRunsQuery } from "./schemas.ts";

/** The fleet routes. */
export const fleetRoutes = new Hono<AppEnv>({ strict: false })
  .get("/sweep-runs", queryOf(sweepRunsQuery), async (c) => {
    const { limit } = c.req.valid("query");
    return c.json({ runs: await adminRepo(c).sweepRuns(limit) });
  })
  .get("/migrate", async (c) => c.json(await adminRepo(c).migrationProgress()))
  .post("/migrate", jsonBody(migrateBody), async (c) => {
    const actor = actorOf(c);
    const { batch } = c.req.valid("json");
    const repo = adminRepo(c);
    const enqueued = await repo.enqueueMigration(batch, actor);
    if (enqueued.length > 0) c.get("log").info("migration batch enqueued", { count: enqueued.length, actor });
    return c.json({
      actor,
      enqueued: enqueued.length,
      user_ids: enqueued,
      progress: await repo.migrationProgress(),
    });
  })
  .get("/doctor", async (c) => {
    const checks = [
      ...databaseChecks(await adminRepo(c).doctorReport(await sha256Hex(c.get("config").provisionerSecret))),
      ...await flyChecks(engine(c)),
    ];
    return c.json({ ok: checks.every((check) => check.ok !== false), checks });
  });
