/**
 * The row repositories by concept, built together over one client: what the engine, the controller and the
 * sweep reach as `deps.repo`.
 *
 * @module
 */
import type { Sql } from "./client.ts";
import { LeasesRepository } from "./leases.ts";
import { DesiredStateRepository } from "./desired_state.ts";
import { RecordsRepository } from "./records.ts";
import { SweepRunsRepository } from "./sweep_runs.ts";
import { AppNamesRepository } from "./app_names.ts";
import { StatusRepository } from "./status.ts";
import { SnapshotsRepository } from "./snapshots.ts";
import { VolumeMovesRepository } from "./volume_moves.ts";

/** Every row repository, by concept. */
export interface Repositories {
  leases: LeasesRepository;
  desired: DesiredStateRepository;
  records: RecordsRepository;
  sweeps: SweepRunsRepository;
  names: AppNamesRepository;
  status: StatusRepository;
  snapshots: SnapshotsRepository;
  moves: VolumeMovesRepository;
}

/** The repositories over one postgres.js client connected as the database owner. */
export function createRepositories(sql: Sql): Repositories {
  return {
    leases: new LeasesRepository(sql),
    desired: new DesiredStateRepository(sql),
    records: new RecordsRepository(sql),
    sweeps: new SweepRunsRepository(sql),
    names: new AppNamesRepository(sql),
    status: new StatusRepository(sql),
    snapshots: new SnapshotsRepository(sql),
    moves: new VolumeMovesRepository(sql),
  };
}
