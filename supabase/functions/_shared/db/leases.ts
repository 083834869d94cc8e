/**
 * Leases on user rows: one reconciler per user across function instances (`private.claim_*`, renew, release).
 *
 * @module
 */
import { SqlRepository } from "./repository.ts";
import { type ClaimResult, ClaimResultSchema, type UserFlyApp, UserFlyAppSchema } from "./user_fly_apps.ts";

/** Leases on user rows. */
export class LeasesRepository extends SqlRepository {
  /** Leases one user's row for `owner`; `leased` when another reconciler has it. */
  async claimUser(userId: string, owner: string, leaseSeconds: number): Promise<ClaimResult> {
    const [{ result }] = await this.sql<{ result: unknown }[]>`
      select private.claim_user_fly_app(${userId}::uuid, ${owner}, ${leaseSeconds}) as result`;
    return ClaimResultSchema.parse(result) as ClaimResult;
  }

  /** Leases up to `limit` rows whose next attempt is due (pending, failed and backed off, lease expired). */
  async claimDue(owner: string, limit: number, leaseSeconds: number): Promise<UserFlyApp[]> {
    const rows = await this.sql<{ app: unknown }[]>`
      select private.claim_due_user_fly_apps(${owner}, ${limit}, ${leaseSeconds}) as app`;
    return rows.map((row) => UserFlyAppSchema.parse(row.app));
  }

  /** Leases those of `ids` nobody else holds (for a closer look by the sweep). */
  async claimIds(ids: string[], owner: string, leaseSeconds: number): Promise<UserFlyApp[]> {
    if (ids.length === 0) return [];
    const rows = await this.sql<{ app: unknown }[]>`
      select private.claim_user_fly_apps(${ids}::uuid[], ${owner}, ${leaseSeconds}) as app`;
    return rows.map((row) => UserFlyAppSchema.parse(row.app));
  }

  /** Releases a lease held by `owner` (a due row stays due). */
  async release(appId: string, owner: string): Promise<void> {
    await this.sql`select private.release_user_fly_app(${appId}::uuid, ${owner})`;
  }

  /** Extends `owner`'s lease; false when the lease is no longer ours. */
  async renewLease(appId: string, owner: string, leaseSeconds: number): Promise<boolean> {
    const [{ renewed }] = await this.sql<{ renewed: boolean }[]>`
      select private.renew_user_fly_app_lease(${appId}::uuid, ${owner}, ${leaseSeconds}) as renewed`;
    return renewed;
  }
}
