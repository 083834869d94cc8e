/**
 * What each user should have (`private.get_desired_spec`), the tier outbox's drain and the drift repair of desired state.
 *
 * @module
 */
import { SqlRepository } from "./repository.ts";
import { type DesiredSpec, DesiredSpecSchema } from "./user_fly_apps.ts";

/** What each user should have (`private.get_desired_spec`), the tier outbox's drain and the drift repair of desired state. */
export class DesiredStateRepository extends SqlRepository {
  /** What the user should have under the row's recorded desired generation (its tier's plan, override, rollout). */
  async desiredSpec(userId: string): Promise<DesiredSpec> {
    return (await this.desiredSpecs([userId])).get(userId)!;
  }

  /** What each of `userIds` should have now, in one query. */
  async desiredSpecs(userIds: string[]): Promise<Map<string, DesiredSpec>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.sql<{ spec: unknown }[]>`
      select private.get_desired_spec(u) as spec from unnest(${userIds}::uuid[]) u`;
    const specs = rows.map((row) => DesiredSpecSchema.parse(row.spec));
    return new Map(specs.map((spec) => [spec.user_id, spec]));
  }

  /**
   * Drains the tier outbox without a kick (the caller reconciles the due rows itself); returns how many
   * changes were queued and how old the oldest was, in seconds, before draining.
   */
  async drainOutbox(limit: number): Promise<{ drained: number; users: number; oldest_age_s: number | null }> {
    const [{ age }] = await this.sql<{ age: number | null }[]>`
      select private.tier_outbox_oldest_age_s()::float8 as age`;
    const [{ report }] = await this.sql<{ report: { drained?: number; users?: number } }[]>`
      select private.drain_tier_outbox(${limit}, false) as report`;
    return { drained: report.drained ?? 0, users: report.users ?? 0, oldest_age_s: age };
  }

  /** Gives paid users without a row (or with a row saying absent) a due row; returns their ids. */
  async repairDesiredStateDrift(limit: number): Promise<string[]> {
    const rows = await this.sql<{ user_id: string }[]>`
      select private.repair_desired_state_drift(${limit}) as user_id`;
    return rows.map((row) => row.user_id);
  }
}
