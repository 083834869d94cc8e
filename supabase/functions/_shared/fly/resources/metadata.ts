import { MachineMetadataSchema, MetadataValueResponseSchema } from "../schemas/machines.ts";
import type { FlyTransport } from "../transport.ts";
import { apiPath, type CallOptions } from "./paths.ts";

/** Options of {@link MetadataResource.update}. */
export interface UpdateMetadataOptions extends CallOptions {
  /** Reject with 412 when the machine is no longer at this version. */
  readonly machineVersion?: string;
}

/** Machine metadata (`config.metadata`). Changing only metadata does not mint a new machine version. */
export class MetadataResource {
  readonly #transport: FlyTransport;

  /** Creates the resource on a transport. */
  constructor(transport: FlyTransport) {
    this.#transport = transport;
  }

  /** All metadata of a machine. */
  get(appName: string, machineId: string, options: CallOptions = {}): Promise<Record<string, string>> {
    return this.#transport.send({
      operation: "Machines_show_metadata",
      method: "GET",
      path: apiPath("apps", appName, "machines", machineId, "metadata"),
      rateIdentifier: machineId,
      idempotent: true,
      schema: MachineMetadataSchema,
      signal: options.signal,
    });
  }

  /** One key's value; {@link FlyNotFoundError} when unset. */
  async getKey(appName: string, machineId: string, key: string, options: CallOptions = {}): Promise<string> {
    const response = await this.#transport.send({
      operation: "Machines_get_metadata_key",
      method: "GET",
      path: apiPath("apps", appName, "machines", machineId, "metadata", key),
      rateIdentifier: machineId,
      idempotent: true,
      schema: MetadataValueResponseSchema,
      signal: options.signal,
    });
    return response.value;
  }

  /** Sets one key (204). */
  async set(appName: string, machineId: string, key: string, value: string, options: CallOptions = {}) {
    await this.#transport.send({
      operation: "Machines_upsert_metadata",
      method: "POST",
      path: apiPath("apps", appName, "machines", machineId, "metadata", key),
      rateIdentifier: machineId,
      idempotent: true,
      body: { value },
      signal: options.signal,
    });
  }

  /** Deletes one key (204). */
  async delete(appName: string, machineId: string, key: string, options: CallOptions = {}): Promise<void> {
    await this.#transport.send({
      operation: "Machines_delete_metadata",
      method: "DELETE",
      path: apiPath("apps", appName, "machines", machineId, "metadata", key),
      rateIdentifier: machineId,
      idempotent: true,
      signal: options.signal,
    });
  }

  /** Sets several keys at once; an empty string removes a key; keys not named are untouched. */
  async update(
    appName: string,
    machineId: string,
    metadata: Readonly<Record<string, string>>,
    options: UpdateMetadataOptions = {},
  ): Promise<void> {
    await this.#transport.send({
      operation: "Machines_update_metadata",
      method: "PATCH",
      path: apiPath("apps", appName, "machines", machineId, "metadata"),
      rateIdentifier: machineId,
      idempotent: true,
      body: { metadata, machine_version: options.machineVersion },
      signal: options.signal,
    });
  }
}
