/**
 * Snapshots of users' volumes (`public.user_fly_volume_snapshots`) and how a plan keeps its volume's data
 * (`fly_plans.volume_snapshot_retention_days`, `volume_auto_backup`).
 *
 * A snapshot row goes `requested` (asked of Fly; its Fly id known once found) → `created` (size, expiry),
 * or `gone` when Fly no longer has it. Only the reconciler holding the user's lease writes a user's rows.
 *
 * @module
 */
import { SqlRepository } from "./repository.ts";

/** Why a snapshot was taken. */
export type SnapshotReason = "final" | "ops";

/** One row of `public.user_fly_volume_snapshots`. */
export interface VolumeSnapshotRow {
  id: number;
  user_id: string;
  app_name: string;
  volume_id: string;
  region: string;
  snapshot_id: string | null;
  reason: SnapshotReason;
  status: "requested" | "created" | "gone";
  size_bytes: number | null;
  volume_size_gb: number | null;
  retention_days: number | null;
  /** ISO times. */
  requested_at: string;
  created_at: string | null;
  expires_at: string | null;
}

/** How a plan keeps its volume's data; null fields leave Fly's defaults (5 days, daily snapshots on). */
export interface VolumeDataPolicy {
  /** Days snapshots are kept (1..60). */
  retentionDays: number | null;
  /** Daily automatic snapshots. */
  autoBackup: boolean | null;
}

/** What Fly reported of a snapshot once it is `created`. */
export interface CreatedSnapshot {
  snapshotId: string;
  sizeBytes: number | null;
  volumeSizeGb: number | null;
  retentionDays: number;
  /** ISO time (Fly's). */
  createdAt: string;
}

/** The row's columns in {@link VolumeSnapshotRow} spelling (numbers as numbers, times as ISO strings). */
const COLUMNS = `id::int as id, user_id::text as user_id, app_name, volume_id, region, snapshot_id, reason,
  status, size_bytes::float8 as size_bytes, volume_size_gb, retention_days,
  to_json(requested_at) #>> '{}' as requested_at, to_json(created_at) #>> '{}' as created_at,
  to_json(expires_at) #>> '{}' as expires_at`;

/** Snapshot rows and plans' data policies. */
export class SnapshotsRepository extends SqlRepository {
  /** The data policy of the tier's plan. */
  async dataPolicy(tier: string): Promise<VolumeDataPolicy> {
    const [plan] = await this.sql<{ retention: number | null; auto_backup: boolean | null }[]>`
      select volume_snapshot_retention_days as retention, volume_auto_backup as auto_backup
      from public.fly_plans where tier = ${tier}`;
    return { retentionDays: plan?.retention ?? null, autoBackup: plan?.auto_backup ?? null };
  }

  /** The volume's snapshot of this reason not yet found created, if any. */
  async pending(volumeId: string, reason: SnapshotReason): Promise<VolumeSnapshotRow | null> {
    const [row] = await this.sql.unsafe<VolumeSnapshotRow[]>(
      `select ${COLUMNS} from public.user_fly_volume_snapshots
       where volume_id = $1 and reason = $2 and status = 'requested' order by id desc limit 1`,
      [volumeId, reason],
    );
    return row ?? null;
  }

  /** The volume's newest created snapshot of this reason, if any. */
  async created(volumeId: string, reason: SnapshotReason): Promise<VolumeSnapshotRow | null> {
    const [row] = await this.sql.unsafe<VolumeSnapshotRow[]>(
      `select ${COLUMNS} from public.user_fly_volume_snapshots
       where volume_id = $1 and reason = $2 and status = 'created' order by created_at desc limit 1`,
      [volumeId, reason],
    );
    return row ?? null;
  }

  /** Records that a snapshot was asked of Fly (before the call: a lost answer is found again by time). */
  async request(
    snapshot: { userId: string; appName: string; volumeId: string; region: string; reason: SnapshotReason },
  ): Promise<VolumeSnapshotRow> {
    const [row] = await this.sql.unsafe<VolumeSnapshotRow[]>(
      `insert into public.user_fly_volume_snapshots (user_id, app_name, volume_id, region, reason)
       values ($1, $2, $3, $4, $5) returning ${COLUMNS}`,
      [snapshot.userId, snapshot.appName, snapshot.volumeId, snapshot.region, snapshot.reason],
    );
    return row;
  }

  /** Ties a requested row to the Fly snapshot found for it; returns the row. */
  async identify(id: number, snapshotId: string): Promise<VolumeSnapshotRow> {
    const [row] = await this.sql.unsafe<VolumeSnapshotRow[]>(
      `update public.user_fly_volume_snapshots set snapshot_id = $2 where id = $1 returning ${COLUMNS}`,
      [id, snapshotId],
    );
    return row;
  }

  /** Gives up a requested row whose snapshot Fly does not have (a new request follows). */
  async abandon(id: number): Promise<void> {
    await this.sql`update public.user_fly_volume_snapshots set status = 'gone'
                   where id = ${id} and status = 'requested'`;
  }

  /** Marks a row created, with its size and expiry (Fly's creation time + its retention). */
  async markCreated(id: number, created: CreatedSnapshot): Promise<VolumeSnapshotRow> {
    const [row] = await this.sql.unsafe<VolumeSnapshotRow[]>(
      `update public.user_fly_volume_snapshots
       set snapshot_id = $2, status = 'created', size_bytes = $3, volume_size_gb = $4, retention_days = $5,
           created_at = $6::timestamptz, expires_at = $6::timestamptz + make_interval(days => $5)
       where id = $1 returning ${COLUMNS}`,
      [
        id,
        created.snapshotId,
        created.sizeBytes,
        created.volumeSizeGb,
        created.retentionDays,
        created.createdAt,
      ],
    );
    return row;
  }

  /** Marks a snapshot Fly no longer has. */
  async markGone(snapshotId: string): Promise<void> {
    await this
      .sql`update public.user_fly_volume_snapshots set status = 'gone' where snapshot_id = ${snapshotId}`;
  }

  /** The user's newest created snapshot in `region` still within its retention: what a restore uses. */
  async latestRestorable(userId: string, region: string): Promise<VolumeSnapshotRow | null> {
    const [row] = await this.sql.unsafe<VolumeSnapshotRow[]>(
      `select ${COLUMNS} from public.user_fly_volume_snapshots
       where user_id = $1 and region = $2 and status = 'created' and expires_at > now()
       order by created_at desc limit 1`,
      [userId, region],
    );
    return row ?? null;
  }

  /** The user's snapshot with this Fly id, if it is recorded for them. */
  async byId(userId: string, snapshotId: string): Promise<VolumeSnapshotRow | null> {
    const [row] = await this.sql.unsafe<VolumeSnapshotRow[]>(
      `select ${COLUMNS} from public.user_fly_volume_snapshots where user_id = $1 and snapshot_id = $2`,
      [userId, snapshotId],
    );
    return row ?? null;
  }

  /** Whether the user ever had a snapshot taken (so a volume of theirs held data before). */
  async any(userId: string): Promise<boolean> {
    const [{ found }] = await this.sql<{ found: boolean }[]>`
      select exists (select 1 from public.user_fly_volume_snapshots where user_id = ${userId}) as found`;
    return found;
  }

  /** The user's snapshots, newest first. */
  async list(userId: string): Promise<VolumeSnapshotRow[]> {
    return await this.sql.unsafe<VolumeSnapshotRow[]>(
      `select ${COLUMNS} from public.user_fly_volume_snapshots where user_id = $1
       order by coalesce(created_at, requested_at) desc, id desc`,
      [userId],
    );
  }
}
