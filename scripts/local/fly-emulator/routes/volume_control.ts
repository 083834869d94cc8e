/**
 * Control routes for volume data, hosts, snapshots and the emulated clock (no token, like control.ts):
 *
 * - `PUT /_emulator/volumes/{id}/data` `{data, by_machine?}`: the content fingerprint a machine "wrote" to the
 *   volume; snapshots copy it and volumes restored from them carry it. With `by_machine: true` the write is
 *   what a running machine does: refused (409) unless a started machine mounts the volume. `GET` reads it.
 * - `PUT /_emulator/hosts/{host}` `{status: "ok" | "unreachable", volumes?}`: a dead host's volumes report
 *   `host_status: unreachable` and cannot be snapshotted or forked; the machines mounting them stop, report
 *   `unreachable` and fail to start (412); a new machine cannot mount them (412 insufficient resources).
 *   With `volumes: false` only the machines are affected (the volumes still report `ok`).
 *   The host of each volume is in `GET /_emulator/state`.
 * - `PUT /_emulator/snapshots` `{hold}`: while held, new on-demand snapshots stay `creating`; releasing
 *   completes them.
 * - `POST /_emulator/clock` `{advance_ms}`: moves the snapshots' clock forward (daily automatic snapshots are
 *   taken, expired ones dropped); answers `{now}`.
 *
 * @module
 */
import { z } from "zod";
import type { Hono } from "hono";
import type { EmulatorCore } from "../core.ts";
import { FlyHttpError, notFound } from "../http_error.ts";
import type { EmulatorEnv } from "../operation.ts";
import type { AppRecord, HostStatus, VolumeRecord } from "../records.ts";
import { readBody } from "../request.ts";
import { advanceClock, emulatedNow, holdSnapshots } from "../snapshots.ts";

/** The live volume with this id, and its app. */
function volumeById(core: EmulatorCore, volumeId: string): { app: AppRecord; volume: VolumeRecord } {
  for (const app of core.store.apps.values()) {
    const volume = app.volumes.get(volumeId);
    if (volume) return { app, volume };
  }
  throw notFound("volume");
}

/** Whether a started machine of `app` mounts the volume. */
function mountedByStartedMachine(app: AppRecord, volumeId: string): boolean {
  return [...app.machines.values()].some((machine) =>
    machine.state === "started" &&
    Array.isArray(machine.config.mounts) &&
    (machine.config.mounts as { volume?: string }[]).some((mount) => mount.volume === volumeId)
  );
}

/**
 * Sets a volume's content fingerprint (null: empty). With `byMachine`, only as a running machine could: a
 * 409 unless a started machine mounts it.
 */
export function writeVolumeData(
  core: EmulatorCore,
  volumeId: string,
  data: string | null,
  options: { byMachine?: boolean } = {},
): void {
  const { app, volume } = volumeById(core, volumeId);
  if (options.byMachine && !mountedByStartedMachine(app, volumeId)) {
    throw new FlyHttpError(409, `volume ${volumeId} is not mounted by a started machine`);
  }
  volume.data = data;
}

/** Reads a volume's content fingerprint. */
export function readVolumeData(core: EmulatorCore, volumeId: string): string | null {
  return volumeById(core, volumeId).volume.data;
}

/** Options of {@link setHostStatus}. */
export interface HostStatusOptions {
  /**
   * Whether the host's volumes report the status too (default true). False: only its machines do (they stop
   * and fail to start) while the volumes still report `ok`, as when Fly's volume view lags the host.
   */
  volumes?: boolean;
}

/**
 * Marks a host dead (`unreachable`) or alive again. A dying host's running machines stop at once; they stay
 * unable to start until it is back.
 */
export function setHostStatus(
  core: EmulatorCore,
  host: string,
  status: HostStatus,
  options: HostStatusOptions = {},
): void {
  for (const app of core.store.apps.values()) {
    const volumes = new Set(
      [...app.volumes.values()].filter((volume) => volume.host === host).map((volume) => volume.id),
    );
    for (const volume of app.volumes.values()) {
      if (volume.host === host && options.volumes !== false) volume.hostStatus = status;
    }
    for (const machine of app.machines.values()) {
      const mounts = Array.isArray(machine.config.mounts)
        ? machine.config.mounts as { volume?: string }[]
        : [];
      if (machine.state === "destroyed" || !mounts.some((mount) => volumes.has(mount.volume ?? ""))) continue;
      machine.hostStatus = status;
      if (status === "unreachable" && machine.state !== "stopped") {
        core.lifecycle.cancel(machine);
        machine.launching = false;
        core.lifecycle.setState(app, machine, "stopped");
      }
    }
  }
}

/** Registers the routes. */
export function registerVolumeControlRoutes(app: Hono<EmulatorEnv>, core: EmulatorCore): void {
  app.put("/_emulator/volumes/:volume_id/data", async (c) => {
    const { data, by_machine } = await readBody(
      c,
      z.object({ data: z.string().max(4096).nullable(), by_machine: z.boolean().optional() }),
    );
    writeVolumeData(core, c.req.param("volume_id"), data, { byMachine: by_machine });
    return c.json({ ok: true });
  });
  app.get(
    "/_emulator/volumes/:volume_id/data",
    (c) => c.json({ data: readVolumeData(core, c.req.param("volume_id")) }),
  );
  app.put("/_emulator/hosts/:host", async (c) => {
    const { status, volumes } = await readBody(
      c,
      z.object({ status: z.enum(["ok", "unreachable"]), volumes: z.boolean().optional() }),
    );
    setHostStatus(core, c.req.param("host"), status, { volumes });
    return c.json({ ok: true });
  });
  app.put("/_emulator/snapshots", async (c) => {
    const { hold } = await readBody(c, z.object({ hold: z.boolean() }));
    holdSnapshots(core, hold);
    return c.json({ hold });
  });
  app.post("/_emulator/clock", async (c) => {
    const { advance_ms } = await readBody(c, z.object({ advance_ms: z.number().int().positive() }));
    advanceClock(core.store, advance_ms);
    return c.json({ now: new Date(emulatedNow(core.store)).toISOString() });
  });
}
