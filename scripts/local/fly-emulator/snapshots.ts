/**
 * Volume snapshots: taken on demand (`creating` for `latency.snapshotMs`, or until released while
 * `store.holdSnapshots`), daily for volumes with `auto_backup_enabled`, expired after their retention, on an
 * emulated clock that tests advance (`/_emulator/clock`). A snapshot copies its volume's content fingerprint,
 * and a volume restored from it carries the fingerprint again.
 *
 * The daily schedule and the expiry run lazily: whenever a snapshot is listed, taken or restored, and when
 * the clock is advanced.
 *
 * @module
 */
import type { EmulatorCore } from "./core.ts";
import { failedPrecondition } from "./http_error.ts";
import { randomHex } from "./ids.ts";
import type { AppRecord, SnapshotRecord, VolumeRecord } from "./records.ts";
import type { EmulatorStore } from "./state.ts";
import { digestOf } from "./views.ts";

/** One day in ms: the period of automatic snapshots and the unit of retention. */
export const DAY_MS = 86_400_000;

/** Epoch ms on the emulated clock of snapshots. */
export function emulatedNow(store: EmulatorStore): number {
  return Date.now() + store.clockOffsetMs;
}

/** Bytes a snapshot of the volume stores: its fingerprint and a small filesystem, never more than the volume. */
function snapshotBytes(volume: VolumeRecord): number {
  return Math.min(volume.sizeGb * 1024 ** 3, 4096 * (16 + (volume.data?.length ?? 0)));
}

function newSnapshot(
  volume: VolumeRecord,
  options: { automatic: boolean; createdAt: number; status: SnapshotRecord["status"] },
): SnapshotRecord {
  return {
    id: `vs_${randomHex(16)}`,
    volumeId: volume.id,
    region: volume.region,
    status: options.status,
    size: snapshotBytes(volume),
    volumeSizeGb: volume.sizeGb,
    digest: digestOf(`${volume.id}:${volume.data ?? ""}:${options.createdAt}`).slice(0, 32),
    data: volume.data,
    createdAt: options.createdAt,
    retentionDays: volume.snapshotRetention,
    automatic: options.automatic,
  };
}

/** Every live volume of the organization. */
function allVolumes(store: EmulatorStore): VolumeRecord[] {
  return [...store.apps.values()].flatMap((app) => [...app.volumes.values()]);
}

/**
 * Brings the schedule up to the emulated now: one automatic snapshot per full day since the last for every
 * reachable volume with auto-backup on, then drops snapshots whose retention ended.
 */
export function runSnapshotSchedule(store: EmulatorStore): void {
  const now = emulatedNow(store);
  for (const volume of allVolumes(store)) {
    while (now - volume.lastAutoSnapshotAt >= DAY_MS) {
      volume.lastAutoSnapshotAt += DAY_MS;
      if (!volume.autoBackupEnabled || volume.hostStatus !== "ok") continue;
      const snapshot = newSnapshot(volume, {
        automatic: true,
        createdAt: volume.lastAutoSnapshotAt,
        status: "created",
      });
      store.snapshots.set(snapshot.id, snapshot);
    }
  }
  for (const [id, snapshot] of store.snapshots) {
    if (snapshot.createdAt + snapshot.retentionDays * DAY_MS <= now) store.snapshots.delete(id);
  }
}

/**
 * Takes an on-demand snapshot of `volume`: `creating` now, `created` after `latency.snapshotMs` (or once
 * released, while snapshots are held). A volume on a dead host cannot be read: 412.
 */
export function takeSnapshot(core: EmulatorCore, volume: VolumeRecord): SnapshotRecord {
  if (volume.hostStatus !== "ok") {
    throw failedPrecondition(`volume ${volume.id} is on a host that is unreachable, unable to snapshot`);
  }
  runSnapshotSchedule(core.store);
  const snapshot = newSnapshot(volume, {
    automatic: false,
    createdAt: emulatedNow(core.store),
    status: "creating",
  });
  core.store.snapshots.set(snapshot.id, snapshot);
  if (!core.store.holdSnapshots) completeLater(core, snapshot);
  return snapshot;
}

function completeLater(core: EmulatorCore, snapshot: SnapshotRecord): void {
  core.lifecycle.later(core.config.latency.snapshotMs, () => {
    snapshot.status = "created";
  });
}

/** Holds new on-demand snapshots in `creating`, or stops holding them and lets the held ones complete. */
export function holdSnapshots(core: EmulatorCore, hold: boolean): void {
  core.store.holdSnapshots = hold;
  if (hold) return;
  for (const snapshot of core.store.snapshots.values()) {
    if (snapshot.status === "creating") completeLater(core, snapshot);
  }
}

/** Moves the emulated clock forward, then runs the schedule (daily snapshots, expiry). */
export function advanceClock(store: EmulatorStore, ms: number): void {
  store.clockOffsetMs += ms;
  runSnapshotSchedule(store);
}

/** The volume's snapshots, oldest first. */
export function snapshotsOf(store: EmulatorStore, volumeId: string): SnapshotRecord[] {
  runSnapshotSchedule(store);
  return [...store.snapshots.values()].filter((snapshot) => snapshot.volumeId === volumeId)
    .sort((a, b) => a.createdAt - b.createdAt);
}

/**
 * Notes that `volume` of `app` is being deleted, with the newest snapshot of it that is `created` now (the
 * deletion log in `GET /_emulator/state`).
 */
export function recordVolumeDeletion(
  store: EmulatorStore,
  options: { app: AppRecord; volume: VolumeRecord; by: "volume_delete" | "app_delete" },
): void {
  const { app, volume, by } = options;
  const taken = snapshotsOf(store, volume.id).filter((snapshot) => snapshot.status === "created").at(-1);
  store.deletedVolumes.push({
    id: volume.id,
    app: app.name,
    region: volume.region,
    data: volume.data,
    deletedAt: emulatedNow(store),
    by,
    snapshot: taken ? { id: taken.id, data: taken.data, createdAt: taken.createdAt } : null,
  });
}

/** `VolumeSnapshot` in API spelling. */
export function snapshotView(snapshot: SnapshotRecord) {
  return {
    id: snapshot.id,
    status: snapshot.status,
    size: snapshot.size,
    digest: snapshot.digest,
    created_at: new Date(snapshot.createdAt).toISOString(),
    retention_days: snapshot.retentionDays,
    volume_size: snapshot.volumeSizeGb,
  };
}
