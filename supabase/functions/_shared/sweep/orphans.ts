/**
 * Orphan apps: apps of ours (by name pattern) in the Fly org that no row expects. Reported by every sweep;
 * deleted only with `FLY_DELETE_ORPHAN_APPS`, and never while a reconcile that may have created one holds
 * its lease or while one of its machines belongs to a user who should have an app.
 *
 * The same listing reports network drift: apps of ours that a row expects but that are not on their own
 * private network (created before apps got one: the org's shared network lets them reach each other). The
 * README's "One private network per app" says how to move them.
 *
 * @module
 */
import { FlyNotFoundError } from "../fly/mod.ts";
import { appNameCandidate, isManagedAppName } from "../engine/app_name.ts";
import type { EngineDeps } from "../engine/context.ts";
import { runClaimed } from "../controller/controller.ts";

/** What the orphan scan found and did. */
export interface OrphanReport {
  found: string[];
  deleted: string[];
  /** Apps rows expect that are not on their own private network (the network named after the app). */
  shared_network?: string[];
  /** Why the scan failed, when it did (the rest of the sweep's report stands). */
  error?: string;
}

/**
 * Finds apps of ours (by name pattern) that no row expects. With `FLY_DELETE_ORPHAN_APPS`, an orphan whose
 * row says absent is deprovisioned again through the engine, and one no row knows is deleted unless a
 * reconcile in flight may have just created it or one of its machines belongs to a user who should have it.
 */
export async function handleOrphans(
  deps: EngineDeps,
  options: { owner: string; deadline: number },
  report: OrphanReport,
): Promise<void> {
  const deadline = options.deadline;
  const apps = await deps.fly.apps.list(deps.config.fly.orgSlug);
  const expected = await deps.repo.names.expectedAppNames();
  const orphans = apps.map((a) => a.name).filter((name) =>
    isManagedAppName(name, deps.config.appNaming) && !expected.has(name)
  );
  report.found = orphans;
  report.shared_network = apps.filter((app) =>
    expected.has(app.name) && app.network !== undefined && app.network !== app.name
  ).map((app) => app.name);
  if (report.shared_network.length > 0) {
    deps.log.warn("apps on a shared private network (drift)", {
      count: report.shared_network.length,
      apps: report.shared_network.slice(0, 20),
    });
  }
  if (orphans.length === 0) return;
  deps.log.warn("orphan apps found", { count: orphans.length, apps: orphans.slice(0, 20) });
  if (!deps.config.deleteOrphanApps) return;

  const known = await deps.repo.names.rowsByAppName(orphans);
  const inFlight = await deps.repo.names.usersInFlight();
  const inFlightNames = new Set(
    await Promise.all(
      inFlight.flatMap((userId) =>
        [0, 1, 2, 3, 4].map((i) => appNameCandidate(userId, i, deps.config.appNaming))
      ),
    ),
  );
  for (const name of orphans) {
    if (Date.now() >= deadline || inFlightNames.has(name)) continue;
    const row = known.get(name);
    if (row) {
      const claim = await deps.repo.leases.claimUser(
        row.user_id,
        options.owner,
        deps.config.reconcile.leaseSeconds,
      );
      if (claim.status !== "claimed") continue;
      const result = await runClaimed(deps, claim.app, {
        owner: options.owner,
        deadline,
        reason: "orphan_app",
      });
      if (result.outcome === "converged") report.deleted.push(name);
      continue;
    }
    if (await deleteUnknownOrphan(deps, name)) report.deleted.push(name);
  }
}

/** Deletes an orphan no row knows, unless a machine in it belongs to a user who should have an app. */
async function deleteUnknownOrphan(deps: EngineDeps, name: string): Promise<boolean> {
  const machines = await deps.fly.machines.list(name);
  for (const machine of machines) {
    const userId = machine.config.metadata?.user_id;
    if (userId && (await deps.repo.desired.desiredSpec(userId)).desired_state === "present") return false;
  }
  try {
    await deps.fly.apps.delete(name);
  } catch (error) {
    if (!(error instanceof FlyNotFoundError)) throw error;
  }
  deps.log.warn("orphan app deleted", { app_name: name });
  return true;
}
