/**
 * `/v1/apps/{app}/volumes`: list, create, show, extend, delete; and the checks a machine create or update
 * makes on its `config.mounts` (the volume exists, is in the machine's region, is not attached elsewhere).
 *
 * A volume counts as attached to the live (not destroyed) machine whose config mounts it, so destroying the
 * machine frees the volume and deleting the app deletes both.
 *
 * @module
 */
import { z } from "zod";
import type { EmulatorCore } from "../core.ts";
import { failedPrecondition, invalidArgument, notFound } from "../http_error.ts";
import { randomHex } from "../ids.ts";
import { checkedRegion } from "../machine_config.ts";
import type { EmulatorContext, Operation } from "../operation.ts";
import { findApp, pathParam, readBody } from "../request.ts";
import type { AppRecord, MachineRecord, VolumeRecord } from "../records.ts";

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
    host_status: "ok",
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
  }
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
        const volume: VolumeRecord = {
          id: newVolumeId(),
          name: body.name,
          region: checkedRegion(body.region, core.config.defaultRegion),
          zone: randomHex(4),
          sizeGb: body.size_gb ?? 3,
          encrypted: body.encrypted ?? true,
          snapshotRetention: body.snapshot_retention ?? 5,
          autoBackupEnabled: body.auto_backup_enabled ?? true,
          createdAt: new Date().toISOString(),
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
        app.volumes.delete(volume.id);
        return c.json(volumeView(app, volume, "destroyed"));
      },
    },
  ];
}
