/**
 * The sweep's bookkeeping: its runs and reports, the fleet listing's cursor, rows unseen or due a detail check.
 *
 * @module
 */
import { SqlRepository } from "./repository.ts";

/** The sweep's bookkeeping. */
export class SweepRunsRepository extends SqlRepository {
  /** Ids of active rows that no fleet listing has seen since `since` (their app or machine vanished). */
  async unseenSince(since: Date, limit: number): Promise<string[]> {
    const rows = await this.sql<{ id: string }[]>`select private.unseen_since(${since}, ${limit}) as id`;
    return rows.map((row) => row.id);
  }

  /**
   * Ids of rows due a detail check, most urgent first: not held, not idle and unhealthy or seen not started,
   * then never checked, then the stalest; none checked since `checkedBefore`.
   */
  async detailCandidates(limit: number, checkedBefore: Date): Promise<string[]> {
    const rows = await this.sql<{ id: string }[]>`
      select a.id from public.user_fly_apps a
      where a.desired_state = 'present' and a.status in ('active', 'held') and a.fly_app_name is not null
        and (a.last_health_check_at is null or a.last_health_check_at < ${checkedBefore})
      order by (a.held_at is null and a.health_status <> 'idle'
                and (a.health_status <> 'healthy' or a.last_machine_state is distinct from 'started')) desc,
               a.last_health_check_at nulls first, a.id
      limit ${limit}`;
    return rows.map((row) => row.id);
  }

  /**
   * Takes the one-sweep-at-a-time lease for `owner` for `seconds` (when free or expired). When another sweep
   * holds it, says whose and since when.
   */
  async takeSweepLease(
    owner: string,
    seconds: number,
  ): Promise<{ taken: boolean; heldBy: string | null; heldSince: string | null }> {
    const [row] = await this.sql<{ taken: boolean; held_by: string | null; held_since: Date | null }[]>`
      select taken, held_by, held_since from private.take_sweep_lease(${owner}, ${seconds})`;
    return {
      taken: row?.taken === true,
      heldBy: row?.held_by ?? null,
      heldSince: row?.held_since ? new Date(row.held_since).toISOString() : null,
    };
  }

  /** Gives the sweep lease back if `owner` holds it. */
  async releaseSweepLease(owner: string): Promise<void> {
    await this.sql`select private.release_sweep_lease(${owner})`;
  }

  /**
   * The safety net: rows whose observed state contradicts their desired state (see
   * `private.flag_state_contradictions`; `liveIds`: deleted rows the fleet listing saw a live machine for)
   * become due now with a `state_contradiction` event. Returns their ids. The ids travel as one text
   * parameter: an array parameter needs postgres.js to have fetched the array types on that connection.
   */
  async flagStateContradictions(liveIds: string[], limit: number): Promise<string[]> {
    const rows = await this.sql<{ id: string }[]>`
      select private.flag_state_contradictions(
        string_to_array(${liveIds.join(",")}, ',')::uuid[], ${limit}) as id`;
    return rows.map((row) => row.id);
  }

  /** Opens the record of a sweep run; returns its id. */
  async startSweepRun(budgetMs: number): Promise<number> {
    const [{ id }] = await this.sql<{ id: number }[]>`
      insert into public.fly_sweep_runs (budget_ms) values (${budgetMs}) returning id`;
    return Number(id);
  }

  /** Closes the record of a sweep run with its report (and the error that ended it, if any). */
  async finishSweepRun(
    id: number,
    run: { durationMs: number; stoppedEarly: boolean; report: object; error?: string },
  ): Promise<void> {
    await this.sql`
      update public.fly_sweep_runs set finished_at = now(), duration_ms = ${run.durationMs},
        stopped_early = ${run.stoppedEarly}, report = ${this.json(run.report)}, error = ${run.error ?? null}
      where id = ${id}`;
  }

  /** The newest sweep runs with their reports. */
  async recentSweepRuns(limit: number): Promise<Record<string, unknown>[]> {
    return await this.sql<Record<string, unknown>[]>`
      select id, started_at, finished_at, duration_ms, budget_ms, stopped_early, error, report
      from public.fly_sweep_runs order by id desc limit ${limit}`;
  }

  /**
   * Where the fleet listing goes on from: the newest high-water mark a finished run recorded, and when the
   * last full listing (one that could see vanished machines) started.
   */
  async fleetCursor(): Promise<{ highWater: string | null; lastFullAt: string | null }> {
    const [row] = await this.sql<{ high_water: string | null; last_full_at: string | null }[]>`
      select
        (select r.report #>> '{fleet,high_water}' from public.fly_sweep_runs r
         where r.report #>> '{fleet,high_water}' is not null order by r.id desc limit 1) as high_water,
        (select max(r.started_at)::text from public.fly_sweep_runs r
         where r.report #>> '{fleet,full}' = 'true' and r.report #>> '{fleet,error}' is null) as last_full_at`;
    return { highWater: row?.high_water ?? null, lastFullAt: row?.last_full_at ?? null };
  }
}
