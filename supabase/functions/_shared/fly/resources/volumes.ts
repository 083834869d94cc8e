/**
 * Volumes of an app: list, create (empty, from a snapshot, forked), get, update, extend, delete, and their
 * snapshots: list, create.
 *
 * @module
 */
import {
  type CreateVolumeRequest,
  type ExtendVolumeResponse,
  ExtendVolumeResponseSchema,
  type UpdateVolumeRequest,
  type Volume,
  VolumeListSchema,
  VolumeSchema,
  type VolumeSnapshot,
  VolumeSnapshotListSchema,
} from "../schemas/volumes.ts";
import type { FlyTransport } from "../transport.ts";
import { apiPath, type CallOptions } from "./paths.ts";

/**
 * Volumes of an app. A volume lives on one host of one region; a machine mounts it through
 * `config.mounts[{volume, path}]` and must be created in the same region. Deleting the app deletes them.
 */
export class VolumesResource {
  readonly #transport: FlyTransport;

  /** Creates the resource on a transport. */
  constructor(transport: FlyTransport) {
    this.#transport = transport;
  }

  /** Lists the app's volumes (destroyed ones are not listed). */
  list(appName: string, options: CallOptions = {}): Promise<Volume[]> {
    return this.#transport.send({
      operation: "Volumes_list",
      method: "GET",
      path: apiPath("apps", appName, "volumes"),
      rateIdentifier: appName,
      idempotent: true,
      schema: VolumeListSchema,
      signal: options.signal,
    });
  }

  /**
   * Creates a volume. Not retried after an ambiguous failure (names are not unique, a retry could make a
   * second one): {@link list} and look for the name before creating again.
   */
  create(appName: string, request: CreateVolumeRequest, options: CallOptions = {}): Promise<Volume> {
    return this.#transport.send({
      operation: "Volumes_create",
      method: "POST",
      path: apiPath("apps", appName, "volumes"),
      rateIdentifier: appName,
      idempotent: false,
      body: request,
      schema: VolumeSchema,
      signal: options.signal,
    });
  }

  /** One volume by id. */
  get(appName: string, volumeId: string, options: CallOptions = {}): Promise<Volume> {
    return this.#transport.send({
      operation: "Volumes_get_by_id",
      method: "GET",
      path: apiPath("apps", appName, "volumes", volumeId),
      rateIdentifier: appName,
      idempotent: true,
      schema: VolumeSchema,
      signal: options.signal,
    });
  }

  /** Changes a volume's snapshot retention (applies to snapshots taken from now on) and auto-backup. */
  update(
    appName: string,
    volumeId: string,
    request: UpdateVolumeRequest,
    options: CallOptions = {},
  ): Promise<Volume> {
    return this.#transport.send({
      operation: "Volumes_update",
      method: "PUT",
      path: apiPath("apps", appName, "volumes", volumeId),
      rateIdentifier: appName,
      idempotent: true,
      body: request,
      schema: VolumeSchema,
      signal: options.signal,
    });
  }

  /**
   * The volume's snapshots (daily and on demand, `creating` or `created`), also of a deleted volume until
   * their retention ends. There is no call for one snapshot by id: list and look for it.
   */
  listSnapshots(appName: string, volumeId: string, options: CallOptions = {}): Promise<VolumeSnapshot[]> {
    return this.#transport.send({
      operation: "Volumes_list_snapshots",
      method: "GET",
      path: apiPath("apps", appName, "volumes", volumeId, "snapshots"),
      rateIdentifier: appName,
      idempotent: true,
      schema: VolumeSnapshotListSchema,
      signal: options.signal,
    });
  }

  /**
   * Starts an on-demand snapshot. The answer has no body: the snapshot shows in {@link listSnapshots},
   * `creating` until it is taken. Not retried after an ambiguous failure (a retry would take a second one):
   * list and look for a snapshot newer than the request first.
   */
  createSnapshot(appName: string, volumeId: string, options: CallOptions = {}): Promise<void> {
    return this.#transport.send({
      operation: "createVolumeSnapshot",
      method: "POST",
      path: apiPath("apps", appName, "volumes", volumeId, "snapshots"),
      rateIdentifier: appName,
      idempotent: false,
      signal: options.signal,
    });
  }

  /**
   * Grows a volume to `sizeGb` (never shrinks: a smaller size is a 400). Retrying is safe: extending to the
   * size it already has changes nothing.
   */
  extend(
    appName: string,
    volumeId: string,
    sizeGb: number,
    options: CallOptions = {},
  ): Promise<ExtendVolumeResponse> {
    return this.#transport.send({
      operation: "Volumes_extend",
      method: "PUT",
      path: apiPath("apps", appName, "volumes", volumeId, "extend"),
      rateIdentifier: appName,
      idempotent: true,
      body: { size_gb: sizeGb },
      schema: ExtendVolumeResponseSchema,
      signal: options.signal,
    });
  }

  /** Deletes a volume (it must not be attached to a machine) and returns it with `state: "destroyed"`. */
  delete(appName: string, volumeId: string, options: CallOptions = {}): Promise<Volume> {
    return this.#transport.send({
      operation: "Volume_delete",
      method: "DELETE",
      path: apiPath("apps", appName, "volumes", volumeId),
      rateIdentifier: appName,
      idempotent: true,
      schema: VolumeSchema,
      signal: options.signal,
    });
  }
}
