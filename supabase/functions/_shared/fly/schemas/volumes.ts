/**
 * Request and response shapes of the Volumes endpoints (`/v1/apps/{app}/volumes...`), per the spec's
 * `Volume`, `CreateVolumeRequest`, `ExtendVolumeRequest`/`ExtendVolumeResponse` and `fly.MachineMount`.
 *
 * @module
 */
import { z } from "zod";

/** One `Volume`. `state` is `created` when usable, `destroyed` in the answer of a delete. */
export const VolumeSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  size_gb: z.number().int(),
  region: z.string(),
  zone: z.string().optional(),
  encrypted: z.boolean().optional(),
  attached_machine_id: z.string().nullable().optional(),
  attached_alloc_id: z.string().nullable().optional(),
  created_at: z.string().optional(),
  snapshot_retention: z.number().int().optional(),
  auto_backup_enabled: z.boolean().optional(),
  host_status: z.string().optional(),
});

/** A volume: a slice of one host's disk in one region, attachable to one machine at a time. */
export type Volume = z.infer<typeof VolumeSchema>;

/** `200` body of `GET /v1/apps/{app}/volumes`. */
export const VolumeListSchema = z.array(VolumeSchema);

/** `200` body of `PUT /v1/apps/{app}/volumes/{id}/extend`. */
export const ExtendVolumeResponseSchema = z.looseObject({
  volume: VolumeSchema,
  needs_restart: z.boolean().optional(),
});

/** Result of extending a volume: the volume and whether its machine must restart to see the new size. */
export type ExtendVolumeResponse = z.infer<typeof ExtendVolumeResponseSchema>;

/**
 * One `VolumeSnapshot`: `status` is `creating` until it is taken, then `created`; `size` in bytes;
 * `volume_size` the size in GB of the volume it was taken from (a restore needs at least that much).
 */
export const VolumeSnapshotSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  size: z.number().int().optional(),
  digest: z.string().optional(),
  created_at: z.string(),
  retention_days: z.number().int().optional(),
  volume_size: z.number().int().optional(),
});

/** A point-in-time copy of a volume, kept `retention_days` days (also after the volume is deleted). */
export type VolumeSnapshot = z.infer<typeof VolumeSnapshotSchema>;

/** `200` body of `GET /v1/apps/{app}/volumes/{id}/snapshots`. */
export const VolumeSnapshotListSchema = z.array(VolumeSnapshotSchema);

/** `UpdateVolumeRequest`, the body of `PUT /v1/apps/{app}/volumes/{id}`. */
export interface UpdateVolumeRequest {
  /** Days snapshots taken from now on are kept (1..60); existing ones keep theirs. */
  snapshot_retention?: number;
  /** Daily automatic snapshots. */
  auto_backup_enabled?: boolean;
}

/** `CreateVolumeRequest`, the body of `POST /v1/apps/{app}/volumes` (the fields this system uses). */
export interface CreateVolumeRequest {
  /** Volume name: lowercase letters, digits and underscores, at most 30 characters. Not unique on Fly. */
  name: string;
  /** Region; the machine mounting it must run there. */
  region: string;
  /** Size in GB (Fly's default 3). */
  size_gb?: number;
  /** Encrypted at rest (Fly's default true). */
  encrypted?: boolean;
  /** Place it on a host no other volume of the app uses (Fly's default true). */
  require_unique_zone?: boolean;
  /** Days of daily snapshots kept (Fly's default 5, 1..60). */
  snapshot_retention?: number;
  /** Scheduled snapshots (Fly's default true). */
  auto_backup_enabled?: boolean;
  /**
   * Restore: the new volume starts with this snapshot's data (same region; `size_gb` at least the
   * snapshot's `volume_size`, else 400).
   */
  snapshot_id?: string;
  /** Fork: the new volume starts with a copy of this volume of the app (`size_gb` at least its size). */
  source_volume_id?: string;
}

/** One `fly.MachineMount` of `MachineConfig.mounts`: the volume id and where it appears in the machine. */
export const MachineMountSchema = z.looseObject({
  volume: z.string().optional(),
  path: z.string().optional(),
  name: z.string().optional(),
  size_gb: z.number().int().optional(),
});

/** A volume mount of a machine. */
export type MachineMount = z.infer<typeof MachineMountSchema>;
