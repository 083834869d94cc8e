import { type Lease, LeaseSchema } from "../schemas/leases.ts";
import type { FlyTransport } from "../transport.ts";
import { apiPath, type CallOptions, leaseHeaders } from "./paths.ts";

/** Options of {@link LeasesResource.acquire}. */
export interface AcquireLeaseOptions extends CallOptions {
  /** Lease duration in seconds. */
  readonly ttlSeconds: number;
  /** Why the lease is held (shown to other holders). */
  readonly description?: string;
}

/**
 * Machine leases: exclusive rights to mutate a machine. Mutations of a leased machine need the lease's nonce
 * (`leaseNonce` option of the machine methods). Responses come in a `{status, data}` envelope, unwrapped here.
 */
export class LeasesResource {
  readonly #transport: FlyTransport;

  /** Creates the resource on a transport. */
  constructor(transport: FlyTransport) {
    this.#transport = transport;
  }

  /** Acquires a lease (201); {@link FlyConflictError} (409) when someone else holds one. */
  acquire(appName: string, machineId: string, options: AcquireLeaseOptions): Promise<Lease> {
    return this.#post("Machines_create_lease", appName, machineId, options);
  }

  /** Extends the lease we hold (same nonce). */
  refresh(
    appName: string,
    machineId: string,
    nonce: string,
    options: AcquireLeaseOptions,
  ): Promise<Lease> {
    return this.#post("Machines_create_lease", appName, machineId, options, nonce);
  }

  /** Reads the current lease (without its nonce); {@link FlyNotFoundError} when there is none. */
  get(appName: string, machineId: string, options: CallOptions = {}): Promise<Lease> {
    return this.#transport.send({
      operation: "Machines_show_lease",
      method: "GET",
      path: apiPath("apps", appName, "machines", machineId, "lease"),
      rateIdentifier: machineId,
      idempotent: true,
      schema: LeaseSchema,
      signal: options.signal,
    });
  }

  /** Releases the lease we hold. An expired lease answers 404 (`lease not found`), which callers may ignore. */
  async release(appName: string, machineId: string, nonce: string, options: CallOptions = {}): Promise<void> {
    await this.#transport.send({
      operation: "Machines_release_lease",
      method: "DELETE",
      path: apiPath("apps", appName, "machines", machineId, "lease"),
      rateIdentifier: machineId,
      idempotent: true,
      headers: leaseHeaders(nonce),
      signal: options.signal,
    });
  }

  /** Acquire or refresh: TTL both as `?ttl=` (what fly-go sends) and in the body (what the spec documents). */
  #post(operation: string, appName: string, machineId: string, options: AcquireLeaseOptions, nonce?: string) {
    return this.#transport.send({
      operation,
      method: "POST",
      path: apiPath("apps", appName, "machines", machineId, "lease"),
      rateIdentifier: machineId,
      idempotent: nonce !== undefined,
      query: { ttl: options.ttlSeconds },
      body: { ttl: options.ttlSeconds, description: options.description },
      headers: leaseHeaders(nonce),
      schema: LeaseSchema,
      signal: options.signal,
    });
  }
}
