/** The emulator's in-memory world: apps of one organization, their secrets, IPs, machines and volumes. */
import { OrgMachineIndex } from "./org_machine_index.ts";
import type { AppRecord, DeletedVolumeRecord, SnapshotRecord } from "./records.ts";

/** All apps, plus names held by other organizations. */
export class EmulatorStore {
  /** Apps of our organization by name. */
  readonly apps = new Map<string, AppRecord>();
  /** Every machine of the organization in listing order (`GET /v1/orgs/{org}/machines`). */
  readonly orgMachines = new OrgMachineIndex();
  /** Names taken by apps of other organizations (403 on GET, 422 on create). */
  readonly reservedNames = new Set<string>();
  /**
   * The organization's private (6PN) networks by name, with the number in their machines' addresses: an app
   * created without `network` joins `default` (1); one created with a name gets that network.
   */
  readonly networks = new Map<string, number>([["default", 1]]);
  /** Whether a volume extend answers `needs_restart: true` (an older host that cannot grow online). */
  extendNeedsRestart = false;
  /** Volume snapshots of the organization by id (they outlive their volume until their retention ends). */
  readonly snapshots = new Map<string, SnapshotRecord>();
  /** Every volume deleted so far, oldest first (see {@link DeletedVolumeRecord}). */
  readonly deletedVolumes: DeletedVolumeRecord[] = [];
  /** How far the emulated clock of snapshots runs ahead of the real one (`/_emulator/clock`). */
  clockOffsetMs = 0;
  /** While true, new on-demand snapshots stay `creating` (`/_emulator/snapshots`). */
  holdSnapshots = false;
  #nextNumericId = 1000;

  /** Creates the store with names already taken elsewhere. */
  constructor(reservedNames: Iterable<string> = []) {
    for (const name of reservedNames) this.reservedNames.add(name);
  }

  /** A fresh internal numeric id. */
  nextNumericId(): number {
    return this.#nextNumericId++;
  }

  /** The number of network `name`, created on first use. */
  networkId(name: string): number {
    let id = this.networks.get(name);
    if (id === undefined) {
      id = this.networks.size + 1;
      this.networks.set(name, id);
    }
    return id;
  }

  /** The app with the given idempotency key, if any. */
  appByIdempotencyKey(key: string): AppRecord | undefined {
    for (const app of this.apps.values()) if (app.idempotencyKey === key) return app;
    return undefined;
  }

  /** Removes every app, machine and snapshot, and resets the clock (reserved names stay). */
  clear(): void {
    this.apps.clear();
    this.orgMachines.clear();
    this.networks.clear();
    this.networks.set("default", 1);
    this.extendNeedsRestart = false;
    this.snapshots.clear();
    this.deletedVolumes.length = 0;
    this.clockOffsetMs = 0;
    this.holdSnapshots = false;
  }
}
