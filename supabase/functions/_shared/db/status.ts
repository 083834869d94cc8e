/**
 * Read models of user apps: the user-facing status document, counts by status and health, storage cost.
 *
 * @module
 */
import { SqlRepository } from "./repository.ts";

/** Read models of user apps. */
export class StatusRepository extends SqlRepository {
  /**
   * The status document (`public.get_user_fly_app_status`) with the user's ops override (`override`: its
   * fields, actor, reason and time, or null) and `idle_since` while the app is idle, or null when there is
   * no row.
   */
  async status(userId: string): Promise<Record<string, unknown> | null> {
    const [{ status, override, idle_since }] = await this.sql<
      {
        status: Record<string, unknown> | null;
        override: Record<string, unknown> | null;
        idle_since: string | null;
      }[]
    >`
      select public.get_user_fly_app_status(${userId}::uuid) as status,
             private.user_fly_app_override(${userId}::uuid) as override,
             private.user_fly_app_idle_since(${userId}::uuid) as idle_since`;
    return status && { ...status, override, ...(idle_since ? { idle_since } : {}) };
  }

  /** Row counts by status and health, for the health function's GET. */
  async summary(): Promise<
    { status: string; health_status: string; desired_state: string; count: number }[]
  > {
    return await this.sql<{ status: string; health_status: string; desired_state: string; count: number }[]>`
      select status, health_status, desired_state, count(*)::int as count
      from public.user_fly_apps group by 1, 2, 3 order by 1, 2, 3`;
  }

  /** Monthly cost of `gb` GB of volume storage from the price table (0 when no price is set). */
  async storageMonthlyCostUsd(gb: number): Promise<number> {
    const [{ cost }] = await this.sql<{ cost: number }[]>`
      select coalesce((select round(p.monthly_usd * ${gb}, 2) from public.fly_prices p
                       where p.item = 'volume_gb'), 0)::float8 as cost`;
    return cost;
  }
}
