/**
 * Operator restores and reverts of a user's volume, and recoveries from a lost host
 * (`public.user_fly_volume_moves`): requested by the admin API (or the engine, for a recovery), applied by
 * the engine's volume step, and the volumes they keep detached until their keep period ends.
 *
 * @module
 */
import { SqlRepository } from "./repository.ts";

/** One row of `public.user_fly_volume_moves` (times as ISO strings). */
export interface VolumeMoveRow {
  id: number;
  user_id: string;
  kind: "restore" | "revert" | "recovery";
  snapshot_id: string | null;
  from_volume_id: string;
  to_volume_id: string | null;
  keep_days: number;
  requested_by: string;
  reason: string | null;
  state: "pending" | "done" | "canceled";
  requested_at: string;
  done_at: string | null;
  keep_until: string | null;
  kept_state: "kept" | "reverted" | "deleted" | null;
  /** Size of the kept volume (its storage is billed while kept). */
  kept_size_gb: number | null;
}

/** A move to request. */
export interface MoveRequest {
  userId: string;
  kind: "restore" | "revert" | "recovery";
  snapshotId?: string;
  fromVolumeId: string;
  toVolumeId?: string;
  keepDays: number;
  actor: string;
  reason?: string;
}

const COLUMNS = `id::int as id, user_id::text as user_id, kind, snapshot_id, from_volume_id, to_volume_id,
  keep_days, requested_by, reason, state, to_json(requested_at) #>> '{}' as requested_at,
  to_json(done_at) #>> '{}' as done_at, to_json(keep_until) #>> '{}' as keep_until, kept_state, kept_size_gb`;

/** Restores, reverts and kept volumes. */
export class VolumeMovesRepository extends SqlRepository {
  /** Records a requested move; null when the user has one pending already. */
  async request(move: MoveRequest): Promise<VolumeMoveRow | null> {
    const [row] = await this.sql.unsafe<VolumeMoveRow[]>(
      `insert into public.user_fly_volume_moves
         (user_id, kind, snapshot_id, from_volume_id, to_volume_id, keep_days, requested_by, reason)
       values ($1, $2, $3, $4, $5, $6, $7, $8)
       on conflict (user_id) where state = 'pending' do nothing returning ${COLUMNS}`,
      [
        move.userId,
        move.kind,
        move.snapshotId ?? null,
        move.fromVolumeId,
        move.toVolumeId ?? null,
        move.keepDays,
        move.actor,
        move.reason ?? null,
      ],
    );
    return row ?? null;
  }

  /** The user's pending move, if any. */
  async pending(userId: string): Promise<VolumeMoveRow | null> {
    const [row] = await this.sql.unsafe<VolumeMoveRow[]>(
      `select ${COLUMNS} from public.user_fly_volume_moves where user_id = $1 and state = 'pending'`,
      [userId],
    );
    return row ?? null;
  }

  /** Records the volume a restore created (and the snapshot, for a recovery), before anything else. */
  async setTarget(id: number, volumeId: string, snapshotId?: string): Promise<void> {
    await this.sql`update public.user_fly_volume_moves
                   set to_volume_id = ${volumeId}, snapshot_id = coalesce(${snapshotId ?? null}, snapshot_id)
                   where id = ${id}`;
  }

  /**
   * Marks a move done: the volume it left (`keptSizeGb`) is kept until now + keep_days; a revert also ends
   * the keep of the volume it went back to.
   */
  async complete(move: VolumeMoveRow, keptSizeGb: number | null): Promise<VolumeMoveRow> {
    return await this.sql.begin(async (tx) => {
      if (move.kind === "revert") {
        await tx`update public.user_fly_volume_moves set kept_state = 'reverted'
                 where user_id = ${move.user_id} and kept_state = 'kept' and from_volume_id = ${move.to_volume_id}`;
      }
      const [row] = await tx.unsafe<VolumeMoveRow[]>(
        `update public.user_fly_volume_moves
         set state = 'done', done_at = now(), keep_until = now() + make_interval(days => keep_days),
             kept_state = 'kept', kept_size_gb = $2
         where id = $1 returning ${COLUMNS}`,
        [move.id, keptSizeGb],
      );
      return row;
    });
  }

  /** Gives up a move that cannot be applied. */
  async cancel(id: number): Promise<void> {
    await this.sql`update public.user_fly_volume_moves set state = 'canceled' where id = ${id}`;
  }

  /** The volumes the user's done moves keep (the newest move first). */
  async kept(userId: string): Promise<VolumeMoveRow[]> {
    return await this.sql.unsafe<VolumeMoveRow[]>(
      `select ${COLUMNS} from public.user_fly_volume_moves where user_id = $1 and kept_state = 'kept'
       order by id desc`,
      [userId],
    );
  }

  /**
   * Records that the user's kept volumes `volumeIds` (all of them when omitted: their app is gone) no longer
   * exist, whatever deleted them (a deprovision, a duplicate): usage and status stop counting them.
   */
  async markVolumesDeleted(userId: string, volumeIds?: string[]): Promise<void> {
    await this.sql`update public.user_fly_volume_moves set kept_state = 'deleted'
      where user_id = ${userId} and kept_state = 'kept'
        and (${volumeIds ?? null}::text[] is null or from_volume_id = any(${volumeIds ?? null}::text[]))`;
  }

  /** Records that a kept volume was deleted at the end of its keep period. */
  async markKeptDeleted(id: number): Promise<void> {
    await this.sql`update public.user_fly_volume_moves set kept_state = 'deleted' where id = ${id}`;
  }
}
