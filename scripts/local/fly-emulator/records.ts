/** The emulator's records: what it keeps per app, machine, lease, secret, IP and volume. */
import type { ResolvedImage } from "./images.ts";

/** A machine event (newest first in API answers). */
export interface MachineEventRecord {
  id: string;
  type: string;
  status: string;
  source: "user" | "flyd";
  timestamp: number;
}

/** A lease on a machine. */
export interface LeaseRecord {
  nonce: string;
  owner: string;
  description: string;
  /** Unix seconds. */
  expiresAt: number;
}

/** One machine. `config` is stored as given (with guest defaults filled in), keys in API spelling. */
export interface MachineRecord {
  id: string;
  name: string;
  region: string;
  state: string;
  version: string;
  config: Record<string, unknown>;
  /** `config.image` as resolved by the registry at the last create/update (digest, behaviour). */
  image: ResolvedImage;
  privateIp: string;
  createdAt: string;
  updatedAt: string;
  events: MachineEventRecord[];
  cordoned: boolean;
  lease?: LeaseRecord;
  /** Monotonic ms until which a start answers `machine still active` (set when a stop completes). */
  stillActiveUntil: number;
  /** True from create until the first boot finishes (a start then answers 412). */
  launching: boolean;
  /** True while suspended with its memory snapshot (a start resumes it); a stop or an update drops it. */
  resumable: boolean;
  /** Earlier versions and their configs. */
  versions: { version: string; config: Record<string, unknown> }[];
  /** `unreachable` while the host of the volume it mounts is dead (starts fail); absent: `ok`. */
  hostStatus?: HostStatus;
}

/** A host's status as volumes and machines report it. */
export type HostStatus = "ok" | "unreachable";

/** One app secret. */
export interface SecretRecord {
  value: string;
  digest: string;
  createdAt: string;
  updatedAt: string;
}

/** One IP assignment, in API spelling. */
export type IpRecord = Record<string, unknown> & { ip?: string };

/** One volume. Which machine it is attached to is derived from the machines' `config.mounts`. */
export interface VolumeRecord {
  id: string;
  name: string;
  region: string;
  zone: string;
  sizeGb: number;
  encrypted: boolean;
  snapshotRetention: number;
  autoBackupEnabled: boolean;
  createdAt: string;
  /** The host it lives on (a machine mounting it runs there). */
  host: string;
  /** `unreachable` while its host is dead. */
  hostStatus: HostStatus;
  /** The content fingerprint a machine "wrote" (`PUT /_emulator/volumes/{id}/data`); null: empty. */
  data: string | null;
  /** Emulated epoch ms of the last daily automatic snapshot (or of the create). */
  lastAutoSnapshotAt: number;
}

/**
 * One volume snapshot. Kept by the organization, not the volume: it outlives the volume (and its app) until
 * its retention ends, and restores into a new volume of any app of the org.
 */
export interface SnapshotRecord {
  id: string;
  volumeId: string;
  region: string;
  /** `creating` until it is taken, then `created`. */
  status: "creating" | "created";
  /** Bytes stored. */
  size: number;
  /** Size in GB of the volume it was taken from: a restore needs at least that much. */
  volumeSizeGb: number;
  digest: string;
  /** The volume's content fingerprint when it was taken. */
  data: string | null;
  /** Emulated epoch ms. */
  createdAt: number;
  retentionDays: number;
  /** Taken by the daily schedule (else on demand). */
  automatic: boolean;
}

/**
 * A volume as it was when it was deleted (by a volume delete or with its app), with the newest snapshot of it
 * that was `created` then: what tests check "no volume deleted without a created snapshot" against.
 */
export interface DeletedVolumeRecord {
  id: string;
  app: string;
  region: string;
  /** Its content fingerprint when deleted. */
  data: string | null;
  /** Emulated epoch ms. */
  deletedAt: number;
  /** How: `DELETE /v1/apps/{app}/volumes/{id}` or with its app. */
  by: "volume_delete" | "app_delete";
  /** The newest `created` snapshot of the volume at that moment, if any. */
  snapshot: { id: string; data: string | null; createdAt: number } | null;
}

/** One app. */
export interface AppRecord {
  id: string;
  name: string;
  orgSlug: string;
  network: string;
  internalNumericId: number;
  /** Epoch ms. */
  createdAt: number;
  /** Monotonic ms from which `GET /apps/{name}` finds the app. */
  visibleFrom: number;
  status: "pending" | "deployed";
  idempotencyKey?: string;
  secrets: Map<string, SecretRecord>;
  /** Latest secrets version written. */
  secretsVersion: number;
  /** Latest secrets version usable as `min_secrets_version`. */
  secretsAvailableVersion: number;
  ips: IpRecord[];
  machines: Map<string, MachineRecord>;
  /** Volumes by id (deleted with the app). */
  volumes: Map<string, VolumeRecord>;
}
