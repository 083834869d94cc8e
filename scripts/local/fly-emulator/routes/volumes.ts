/**
 * `/v1/apps/{app}/volumes`: list, create (empty, from a snapshot or forked from a volume), show, update
 * (snapshot retention, auto-backup), extend, delete, and the volume's snapshots; and the checks a machine create or update
 * makes on its `config.mounts` (the volume exists, is in the machine's region, is not attached elsewhere).
 *
 * A volume counts as attached to the live (not destroyed) machine whose config mounts it, so destroying the
 * machine frees the volume and deleting the app deletes both.
 *
 * @module
 */
import { z } from "zod";
import type { EmulatorCore } from "../core.ts";
import { failedPrecondition, FlyHttpError, invalidArgument, notFound } from "../http_error.ts";
import { randomHex } from "../ids.ts";
import { checkedRegion } from "../machine_config.ts";
import type { EmulatorContext, Operation } from "../operation.ts";
import { findApp, pathParam, readBody } from "../request.ts";
import type { AppRecord, MachineRecord, VolumeRecord } from "../records.ts";
import {
  emulatedNow,
  recordVolumeDeletion,
  runSnapshotSchedule,
  snapshotsOf,
  snapshotView,
  takeSnapshot,
} from "../snapshots.ts";

/** Fly's volume name rule. */
const VOLUME_NAME = /^[a-z0-9_]{1,30}$/;
/** Largest volume Fly creates, in GB. */
const MAX_SIZE_GB = 500;

const sizeGb = z.number().int().min(1, "must be at least 1").max(
  MAX_SIZE_GB,
  `must be at most ${MAX_SIZE_GB}`,
);

const CreateVolumeBody = z.looseObject({
  name: z.string().regex(VOLUME_NAME, "must be 1-30 lowercase letters, digits or underscores"),
  region: z.string().optional(),
  size_gb: sizeGb.optional(),
  encrypted: z.boolean().optional(),
  require_unique_zone: z.boolean().optional(),
  snapshot_retention: z.number().int().min(1).max(60).optional(),
  auto_backup_enabled: z.boolean().optional(),
  snapshot_id: z.string().min(1).optional(),
  source_volume_id: z.string().min(1).optional(),
});

const UpdateVolumeBody = z.looseObject({
  snapshot_retention: z.number().int().min(1).max(60).optional(),
  auto_backup_enabled: z.boolean().optional(),
});

const ExtendVolumeBody = z.looseObject({ size_gb: sizeGb });

const Mount = z.looseObject({ volume: z.string().optional(), path: z.string().optional() });

/** A volume id like Fly's: `vol_` and 16 characters. */
function newVolumeId(): string {
  return `vol_${randomHex(16)}`;
}

function isLive(machine: MachineRecord): boolean {
  return machine.state !== "destroyed";
}

function mountsOf(config: Record<string, unknown>): z.infer<typeof Mount>[] {
  const parsed = z.array(Mount).safeParse(config.mounts ?? []);
  return parsed.success ? parsed.data : [];
}

/** The live machine whose config mounts `volumeId`, if any. */
function attachedMachine(app: AppRecord, volumeId: string): MachineRecord | undefined {
  return [...app.machines.values()].find((machine) =>
    isLive(machine) && mountsOf(machine.config).some((mount) => mount.volume === volumeId)
  );
}

/** A volume in API spelling. */
export function volumeView(app: AppRecord, volume: VolumeRecord, state = "created") {
  const machine = attachedMachine(app, volume.id);
  const blocks = volume.sizeGb * 262_144;
  return {
    id: volume.id,
    name: volume.name,
    state,
    size_gb: volume.sizeGb,
    region: volume.region,
    zone: volume.zone,
    encrypted: volume.encrypted,
    ...(machine ? { attached_machine_id: machine.id, attached_alloc_id: machine.version } : {}),
    created_at: volume.createdAt,
    block_size: 4096,
    blocks,
    blocks_free: blocks,
    blocks_avail: blocks,
    bytes_total: volume.sizeGb * 1024 ** 3,
    bytes_used: 0,
    fstype: "ext4",
    snapshot_retention: volume.snapshotRetention,
    auto_backup_enabled: volume.autoBackupEnabled,
    host_status: volume.hostStatus,
    type: "local",
  };
}

function findVolume(app: AppRecord, c: EmulatorContext): VolumeRecord {
  const volume = app.volumes.get(pathParam(c, "volume_id"));
  if (!volume) throw notFound("volume");
  return volume;
}

/**
 * Checks a machine's `config.mounts` against the app's volumes: at most one mount, each naming an existing
 * volume of the machine's region that no other live machine mounts, at an absolute path. 400/412 otherwise.
 * `machineId` is the machine being updated (undefined on create).
 */
export function checkMounts(
  app: AppRecord,
  config: Record<string, unknown>,
  region: string,
  machineId?: string,
): void {
  const parsed = z.array(Mount).safeParse(config.mounts ?? []);
  if (!parsed.success) throw invalidArgument("config.mounts must be a list of {volume, path}");
  if (parsed.data.length > 1) throw invalidArgument("config.mounts: only one volume mount is supported");
  for (const [index, mount] of parsed.data.entries()) {
    const field = `config.mounts[${index}]`;
    if (!mount.volume) throw invalidArgument(`${field}.volume is required`);
    if (!mount.path?.startsWith("/")) throw invalidArgument(`${field}.path must be an absolute path`);
    const volume = app.volumes.get(mount.volume);
    if (!volume) throw invalidArgument(`${field}.volume: volume ${mount.volume} not found`);
    if (volume.region !== region) {
      throw invalidArgument(
        `${field}.volume: volume ${volume.id} is in region ${volume.region}, the machine in ${region}`,
      );
    }
    const holder = attachedMachine(app, volume.id);
    if (holder && holder.id !== machineId) {
      throw failedPrecondition(`volume ${volume.id} is currently bound to machine: ${holder.id}`);
    }
    if (volume.hostStatus !== "ok") {
      throw new FlyHttpError(
        412,
        `insufficient resources to create new machine with existing volume '${volume.id}'`,
      );
    }
  }
}

/** What a new volume starts from: nothing, a snapshot, or another volume (a fork). */
interface VolumeOrigin {
  data: string | null;
  /** The least size the new volume may have, in GB. */
  minSizeGb: number;
  /** The region it must be in, when the origin fixes one. */
  region?: string;
}

/**
 * The origin a create names: `snapshot_id` (a `created` snapshot of the org, restored in its region) or
 * `source_volume_id` (a volume of the app, forked), never both. Unknown ones are 404, others 400.
 */
function originOf(core: EmulatorCore, app: AppRecord, body: z.infer<typeof CreateVolumeBody>): VolumeOrigin {
  if (body.snapshot_id && body.source_volume_id) {
    throw invalidArgument("snapshot_id and source_volume_id are mutually exclusive");
  }
  if (body.snapshot_id) {
    runSnapshotSchedule(core.store);
    const snapshot = core.store.snapshots.get(body.snapshot_id);
    if (!snapshot) throw notFound("snapshot");
    if (snapshot.status !== "created") {
      throw failedPrecondition(`snapshot ${snapshot.id} is not ready (status ${snapshot.status})`);
    }
    return { data: snapshot.data, minSizeGb: snapshot.volumeSizeGb, region: snapshot.region };
  }
  if (body.source_volume_id) {
    const source = app.volumes.get(body.source_volume_id);
    if (!source) throw notFound("volume");
    if (source.hostStatus !== "ok") {
      throw failedPrecondition(`volume ${source.id} is on a host that is unreachable, unable to fork`);
    }
    return { data: source.data, minSizeGb: source.sizeGb };
  }
  return { data: null, minSizeGb: 1 };
}

/** The volume operations. */
export function volumeOperations(core: EmulatorCore): Operation[] {
  return [
    {
      id: "Volumes_list",
      method: "GET",
      path: "/v1/apps/:app_name/volumes",
      handle: (c) => {
        const app = findApp(core, c);
        const volumes = [...app.volumes.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
        return c.json(volumes.map((volume) => volumeView(app, volume)));
      },
    },
    {
      id: "Volumes_create",
      method: "POST",
      path: "/v1/apps/:app_name/volumes",
      handle: async (c) => {
        const app = findApp(core, c);
        const body = await readBody(c, CreateVolumeBody);
        const origin = originOf(core, app, body);
        const region = checkedRegion(body.region, origin.region ?? core.config.defaultRegion);
        if (origin.region && region !== origin.region) {
          throw invalidArgument(`region: the snapshot is in ${origin.region}; restore it there`);
        }
        const size = body.size_gb ?? Math.max(3, origin.minSizeGb);
        if (size < origin.minSizeGb) {
          throw invalidArgument(
            `size_gb: must be at least the source volume's size (${origin.minSizeGb} GB)`,
          );
        }
        const volume: VolumeRecord = {
          id: newVolumeId(),
          name: body.name,
          region,
          zone: randomHex(4),
          sizeGb: size,
          encrypted: body.encrypted ?? true,
          snapshotRetention: body.snapshot_retention ?? 5,
          autoBackupEnabled: body.auto_backup_enabled ?? true,
          createdAt: new Date().toISOString(),
          host: `host_${randomHex(6)}`,
          hostStatus: "ok",
          data: origin.data,
          lastAutoSnapshotAt: emulatedNow(core.store),
        };
        app.volumes.set(volume.id, volume);
        return c.json(volumeView(app, volume));
      },
    },
    {
      id: "Volumes_get_by_id",
      method: "GET",
      path: "/v1/apps/:app_name/volumes/:volume_id",
      handle: (c) => {
        const app = findApp(core, c);
        return c.json(volumeView(app, findVolume(app, c)));
      },
    },
    {
      id: "Volumes_update",
      method: "PUT",
      path: "/v1/apps/:app_name/volumes/:volume_id",
      handle: async (c) => {
        const app = findApp(core, c);
        const volume = findVolume(app, c);
        const body = await readBody(c, UpdateVolumeBody);
        volume.snapshotRetention = body.snapshot_retention ?? volume.snapshotRetention;
        volume.autoBackupEnabled = body.auto_backup_enabled ?? volume.autoBackupEnabled;
        return c.json(volumeView(app, volume));
      },
    },
    {
      // Listed by volume id, also once the volume is deleted (Fly restores deleted volumes this way).
      id: "Volumes_list_snapshots",
      method: "GET",
      path: "/v1/apps/:app_name/volumes/:volume_id/snapshots",
      handle: (c) => {
        findApp(core, c);
        return c.json(snapshotsOf(core.store, pathParam(c, "volume_id")).map(snapshotView));
      },
    },
    {
      // The spec declares no body: the new snapshot shows in the list, `creating` at first.
      id: "createVolumeSnapshot",
      method: "POST",
      path: "/v1/apps/:app_name/volumes/:volume_id/snapshots",
      handle: (c) => {
        const app = findApp(core, c);
        takeSnapshot(core, findVolume(app, c));
        return c.body(null, 200);
      },
    },
    {
      id: "Volumes_extend",
      method: "PUT",
      path: "/v1/apps/:app_name/volumes/:volume_id/extend",
      handle: async (c) => {
        const app = findApp(core, c);
        const volume = findVolume(app, c);
        const { size_gb } = await readBody(c, ExtendVolumeBody);
        if (size_gb < volume.sizeGb) {
          throw invalidArgument(`size_gb: volumes cannot shrink (current size ${volume.sizeGb} GB)`);
        }
        volume.sizeGb = size_gb;
        // Emulated hosts grow the filesystem online (a running machine sees the new size at once) unless a
        // test asks for an older host (`setVolumeExtendNeedsRestart`).
        return c.json({ volume: volumeView(app, volume), needs_restart: core.store.extendNeedsRestart });
      },
    },
    {
      id: "Volume_delete",
      method: "DELETE",
      path: "/v1/apps/:app_name/volumes/:volume_id",
      handle: (c) => {
        const app = findApp(core, c);
        const volume = findVolume(app, c);
        const holder = attachedMachine(app, volume.id);
        if (holder) throw failedPrecondition(`volume is currently bound to machine: ${holder.id}`);
        recordVolumeDeletion(core.store, { app, volume, by: "volume_delete" });
        app.volumes.delete(volume.id);
        return c.json(volumeView(app, volume, "destroyed"));
      },
    },
  ];
}
