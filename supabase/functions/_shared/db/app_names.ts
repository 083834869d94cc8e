/**
 * Which Fly app names belong to which rows: name clashes, the orphan scan's expected names and rows in flight.
 *
 * @module
 */
import { SqlRepository } from "./repository.ts";

/** Which Fly app names belong to which rows. */
export class AppNamesRepository extends SqlRepository {
  /** True when another user's row records `appName` (so an app of that name is not this user's). */
  async appNameUsedByAnotherUser(appName: string, userId: string): Promise<boolean> {
    const [{ used }] = await this.sql<{ used: boolean }[]>`
      select exists(select 1 from public.user_fly_apps
                    where fly_app_name = ${appName} and user_id <> ${userId}::uuid) as used`;
    return used;
  }

  /**
   * Names of apps that rows expect to exist (desired present, or kept until a downgrade's grace period ends
   * and the app is deleted), for the orphan scan.
   */
  async expectedAppNames(): Promise<Set<string>> {
    const rows = await this.sql<{ fly_app_name: string }[]>`
      select fly_app_name from public.user_fly_apps
      where fly_app_name is not null and (desired_state = 'present' or delete_after is not null)`;
    return new Set(rows.map((row) => row.fly_app_name));
  }

  /** Rows of a known app name, for orphan handling: who it belonged to and what they should have. */
  async rowsByAppName(names: string[]): Promise<Map<string, { user_id: string; desired_state: string }>> {
    if (names.length === 0) return new Map();
    const rows = await this.sql<{ fly_app_name: string; user_id: string; desired_state: string }[]>`
      select fly_app_name, user_id, desired_state from public.user_fly_apps where fly_app_name = any(${names})`;
    return new Map(rows.map((row) => [row.fly_app_name, row]));
  }

  /** Users whose row is leased right now (a reconcile in flight may have created an app not yet recorded). */
  async usersInFlight(): Promise<string[]> {
    const rows = await this.sql<{ user_id: string }[]>`
      select user_id from public.user_fly_apps where lease_expires_at > now()`;
    return rows.map((row) => row.user_id);
  }
}
