/**
 * What reconciles and observations write: outcomes with their events, batched observations, the fleet listing's states, runtime.
 *
 * @module
 */
import { SqlRepository } from "./repository.ts";
import {
  type AppEvent,
  type FleetRow,
  FleetRowSchema,
  type FleetState,
  type Observation,
  type UserFlyApp,
  type UserFlyAppPatch,
  UserFlyAppPatchSchema,
  UserFlyAppSchema,
} from "./user_fly_apps.ts";

/** What reconciles and observations write. */
export class RecordsRepository extends SqlRepository {
  /**
   * Records one attempt's outcome at desired generation `generation` (lease fence, patch, generation fence,
   * events; releases the lease unless `release` is false). Throws SQLSTATE 55000 when the lease is lost.
   */
  async recordOutcome(
    appId: string,
    owner: string,
    outcome: { generation: number; patch: UserFlyAppPatch; events: AppEvent[]; release?: boolean },
  ): Promise<UserFlyApp> {
    const patch = UserFlyAppPatchSchema.parse(outcome.patch);
    const [{ app }] = await this.sql<{ app: unknown }[]>`
      select private.record_outcome(${appId}::uuid, ${owner}, ${outcome.generation}, ${this.json(patch)},
        ${this.json(outcome.events)}, ${outcome.release ?? true}) as app`;
    return UserFlyAppSchema.parse(app);
  }

  /**
   * Writes a batch of observations in one transaction: of rows `owner` leases, or (owner null) of rows nobody
   * leases. Returns the ids written, and the rows whose lease the caller keeps (`release: false`).
   */
  async recordObservations(
    owner: string | null,
    observations: Observation[],
  ): Promise<{ written: string[]; kept: UserFlyApp[] }> {
    if (observations.length === 0) return { written: [], kept: [] };
    const items = observations.map((o) => ({ ...o, patch: UserFlyAppPatchSchema.parse(o.patch) }));
    const rows = await this.sql<{ id: string; kept: unknown }[]>`
      select id, kept from private.record_observations(${owner}, ${this.json(items)})`;
    return {
      written: rows.map((row) => row.id),
      kept: rows.filter((row) => row.kept !== null).map((row) => UserFlyAppSchema.parse(row.kept)),
    };
  }

  /** Fleet listing: writes the machine states the fleet listing saw (one statement); returns the rows written. */
  async recordFleetStates(states: FleetState[]): Promise<FleetRow[]> {
    if (states.length === 0) return [];
    const rows = await this.sql`select * from private.record_fleet_states(${this.json(states)})`;
    return rows.map((row) => FleetRowSchema.parse(row));
  }

  /**
   * Feeds runtime accounting (`private.record_machine_observations`) with every observed machine's state as
   * of `observedAt`: after a complete listing, a row's last seen state is its state then.
   */
  async recordRuntime(observedAt: Date): Promise<number> {
    const [{ count }] = await this.sql<{ count: number }[]>`
      select private.record_machine_observations(coalesce((
        select jsonb_agg(jsonb_build_object('user_id', a.user_id, 'machine_id', a.machine_id,
                                            'state', a.last_machine_state, 'observed_at', ${observedAt}::timestamptz))
        from public.user_fly_apps a
        where a.machine_id is not null and a.last_machine_state is not null and a.desired_state = 'present'
      ), '[]'::jsonb)) as count`;
    return count;
  }
}
