/**
 * Orphan routes of the admin API: the last sweep's orphan apps (apps of ours in the Fly org that no row
 * expects) with what is known about each, and the deletion of one, refused while it may belong to a
 * reconcile in flight or to a paid user.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AdminRepository, JsonRow } from "../db/admin.ts";
import { FlyNotFoundError } from "../fly/mod.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpError } from "../http/errors.ts";
import { paramsOf } from "../http/validate.ts";
import type { EngineDeps } from "../engine/context.ts";
import { appNameCandidate, isManagedAppName } from "../engine/app_name.ts";
import { actorOf, adminRepo, engine } from "./request.ts";
import { appNameParam } from "./schemas.ts";

/** Name candidates per user the engine may try (see `reconcile/app_name.ts`). */
const NAME_CANDIDATES = [0, 1, 2, 3, 4];

/** The app names an orphan report lists (plain names, or objects with `name` / `app_name`). */
export function orphanNames(found: unknown): string[] {
  if (!Array.isArray(found)) return [];
  return found.map((item) =>
    typeof item === "string" ? item : String((item as JsonRow)?.name ?? (item as JsonRow)?.app_name ?? "")
  ).filter((name) => name !== "");
}

/** App names a reconcile in flight may have created without recording them yet. */
async function inFlightNames(deps: EngineDeps, repo: AdminRepository): Promise<Set<string>> {
  const users = await repo.usersInFlight();
  const names = await Promise.all(
    users.flatMap((userId) => NAME_CANDIDATES.map((i) => appNameCandidate(userId, i, deps.config.appNaming))),
  );
  return new Set(names);
}

/** Why the orphan `name` must not be deleted now, or null when it may be. */
async function refusal(c: Context<AppEnv>, name: string): Promise<string | null> {
  const deps = engine(c);
  const repo = adminRepo(c);
  if (!isManagedAppName(name, deps.config.appNaming)) return `${name} is not an app this project manages`;
  const row = (await repo.rowsByAppName([name])).get(name);
  if (row?.desired_state === "present" || row?.paid) {
    return `${name} belongs to user ${row.user_id}, who should have an app (tier ${row.tier ?? "none"})`;
  }
  if (row?.in_flight || (await inFlightNames(deps, repo)).has(name)) {
    return `${name} may belong to a reconcile in flight; try again once it finished`;
  }
  const machines = await deps.fly.machines.list(name);
  for (const machine of machines) {
    const userId = machine.config.metadata?.user_id;
    if (userId && await repo.isPaidUser(userId)) {
      return `machine ${machine.id} of ${name} belongs to paid user ${userId}`;
    }
  }
  return null;
}

/** The orphan routes. */
export const orphanRoutes = new Hono<AppEnv>({ strict: false })
  .get("/orphans", async (c) => {
    const repo = adminRepo(c);
    const scan = await repo.lastOrphanScan();
    if (!scan) {
      return c.json({ sweep_run: null, orphans: [], note: "no sweep run has scanned for orphans yet" });
    }
    const report = (scan.orphans ?? {}) as JsonRow;
    const names = orphanNames(report.found);
    const rows = await repo.rowsByAppName(names);
    const inFlight = await inFlightNames(engine(c), repo);
    const deleted = new Set(orphanNames(report.deleted));
    return c.json({
      sweep_run: { id: scan.id, started_at: scan.started_at, finished_at: scan.finished_at },
      error: report.error ?? null,
      orphans: names.map((name) => {
        const row = rows.get(name);
        return {
          name,
          deleted_by_sweep: deleted.has(name),
          user_id: row?.user_id ?? null,
          tier: row?.tier ?? null,
          desired_state: row?.desired_state ?? null,
          paid_user: Boolean(row?.paid),
          in_flight: Boolean(row?.in_flight) || inFlight.has(name),
        };
      }),
    });
  })
  .delete("/orphans/:name", paramsOf(appNameParam), async (c) => {
    const { name } = c.req.valid("param");
    const actor = actorOf(c);
    const deps = engine(c);
    try {
      await deps.fly.apps.get(name);
    } catch (error) {
      if (error instanceof FlyNotFoundError) throw new HttpError(404, "not_found", `no app ${name} on Fly`);
      throw error;
    }
    const refused = await refusal(c, name);
    if (refused) throw new HttpError(409, "conflict", `refused: ${refused}`);
    try {
      await deps.fly.apps.delete(name);
    } catch (error) {
      if (!(error instanceof FlyNotFoundError)) throw error;
    }
    const row = (await adminRepo(c).rowsByAppName([name])).get(name);
    if (row) {
      await adminRepo(c).appendEvent(String(row.user_id), {
        type: "orphan_deleted",
        status: "warning",
        metadata: { actor, app_name: name },
      });
    }
    c.get("log").warn("orphan app deleted", { app_name: name, actor });
    return c.json({ name, deleted: true, actor });
  });
