import { FlyRequestTimeoutError } from "../errors.ts";
import {
  type CreateMachineRequest,
  type Machine,
  MachineSchema,
  type StartMachineResponse,
  StartMachineResponseSchema,
  type UpdateMachineRequest,
  WaitMachineResponseSchema,
} from "../schemas/machines.ts";
import type { FlyCall, FlyTransport } from "../transport.ts";
import { apiPath, type CallOptions, leaseHeaders, type MachineMutationOptions } from "./paths.ts";
import { z } from "zod";

/** Filters of {@link MachinesResource.list}. */
export interface ListMachinesOptions extends CallOptions {
  /** Only machines whose `config.metadata` has all these key/value pairs (`metadata.<key>=<value>`). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Only machines in one of these states. */
  readonly states?: readonly ("created" | "started" | "stopped" | "suspended")[];
  /** Only machines in this region. */
  readonly region?: string;
  /** Include destroyed machines. */
  readonly includeDeleted?: boolean;
  /** Page size (1..1000); all pages are fetched either way. */
  readonly pageSize?: number;
}

/** Options of {@link MachinesResource.stop}. */
export interface StopMachineOptions extends MachineMutationOptions {
  /** Signal sent to the main process (default per Fly: SIGINT). */
  readonly killSignal?: "SIGHUP" | "SIGINT" | "SIGQUIT" | "SIGKILL" | "SIGUSR1" | "SIGUSR2" | "SIGTERM";
  /** How long to wait before killing, as a Go duration (`"30s"`). */
  readonly timeout?: string;
}

/** Options of {@link MachinesResource.delete}. */
export interface DeleteMachineOptions extends MachineMutationOptions {
  /**
   * Destroy even when running; without it the machine must be stopped, suspended, failed or created (412).
   * Sent as both `force=true` (the spec's and the docs' name) and `kill=true` (what fly-go, flyctl and
   * fly-admin send), since which one the API honours is not documented.
   */
  readonly force?: boolean;
}

/** A state a wait can target; `settled` is any non-transient state. */
export type WaitTargetState = "started" | "stopped" | "suspended" | "destroyed" | "failed" | "settled";

/** Options of {@link MachinesResource.wait}. */
export interface WaitMachineOptions extends CallOptions {
  /** Target state(s), any of which ends the wait. Default `started`. */
  readonly state?: WaitTargetState | readonly WaitTargetState[];
  /** Seconds the server waits, clamped to the API's range 1..60. Default 60. */
  readonly timeoutSeconds?: number;
  /** The machine version to watch; required by the API when waiting for `stopped`. */
  readonly version?: string;
}

/** Outcome of one wait: the state was reached, or the server's deadline passed first (408). */
export type WaitResult =
  | { readonly reached: true; readonly state?: string; readonly version?: string }
  | { readonly reached: false };

/** Machines of an app: create, list, get, update, lifecycle actions, delete and wait. */
export class MachinesResource {
  readonly #transport: FlyTransport;

  /** Creates the resource on a transport. */
  constructor(transport: FlyTransport) {
    this.#transport = transport;
  }

  /**
   * Creates a machine (answered at `created`; it boots asynchronously). Not retried after an ambiguous failure
   * (timeout, 5xx, lost connection: {@link FlyNetworkError.mayHaveReachedServer}): put a create token into
   * `config.metadata` and {@link list} by it before creating again.
   */
  create(appName: string, request: CreateMachineRequest, options: CallOptions = {}): Promise<Machine> {
    return this.#transport.send({
      operation: "Machines_create",
      method: "POST",
      path: apiPath("apps", appName, "machines"),
      rateIdentifier: appName,
      idempotent: false,
      body: request,
      schema: MachineSchema,
      signal: options.signal,
    });
  }

  /** Lists the app's machines (destroyed ones only with `includeDeleted`), following `fly-next-cursor`. */
  async list(appName: string, options: ListMachinesOptions = {}): Promise<Machine[]> {
    const metadataFilters = Object.fromEntries(
      Object.entries(options.metadata ?? {}).map(([key, value]) => [`metadata.${key}`, value]),
    );
    const machines: Machine[] = [];
    let cursor: string | undefined;
    do {
      const { body, headers } = await this.#transport.exchange({
        operation: "Machines_list",
        method: "GET",
        path: apiPath("apps", appName, "machines"),
        rateIdentifier: appName,
        idempotent: true,
        query: {
          ...metadataFilters,
          state: options.states?.join(","),
          region: options.region,
          include_deleted: options.includeDeleted,
          limit: options.pageSize,
          cursor,
        },
        schema: z.array(MachineSchema),
        signal: options.signal,
      });
      machines.push(...body);
      cursor = headers.get("fly-next-cursor") || undefined;
    } while (cursor !== undefined);
    return machines;
  }

  /** Gets a machine, optionally a specific version of it. */
  get(appName: string, machineId: string, options: CallOptions & { readonly version?: string } = {}) {
    return this.#transport.send({
      operation: "Machines_show",
      method: "GET",
      path: apiPath("apps", appName, "machines", machineId),
      rateIdentifier: machineId,
      idempotent: true,
      query: { version: options.version },
      schema: MachineSchema,
      signal: options.signal,
    });
  }

  /**
   * Replaces the machine's whole config (there are no partial updates) and mints a new version. With
   * `current_version`, a machine that changed meanwhile answers 409 and nothing changes. Not retried after
   * an ambiguous failure: get the machine and compare its version instead.
   */
  update(
    appName: string,
    machineId: string,
    request: UpdateMachineRequest,
    options: MachineMutationOptions = {},
  ): Promise<Machine> {
    return this.#transport.send({
      ...this.#mutation("Machines_update", appName, machineId, options),
      path: apiPath("apps", appName, "machines", machineId),
      idempotent: false,
      body: request,
      schema: MachineSchema,
    });
  }

  /** Starts a stopped, suspended or created machine. 412 while it is still stopping or being replaced. */
  start(
    appName: string,
    machineId: string,
    options: MachineMutationOptions = {},
  ): Promise<StartMachineResponse> {
    return this.#transport.send({
      ...this.#mutation("Machines_start", appName, machineId, options, "start"),
      schema: StartMachineResponseSchema,
    });
  }

  /** Stops a machine (it passes `stopping` on the way to `stopped`). */
  async stop(appName: string, machineId: string, options: StopMachineOptions = {}): Promise<void> {
    const body = options.killSignal || options.timeout
      ? { signal: options.killSignal, timeout: options.timeout }
      : undefined;
    await this.#transport.send({
      ...this.#mutation("Machines_stop", appName, machineId, options, "stop"),
      body,
    });
  }

  /** Restarts a started machine (same version; does not pick up new secrets). */
  async restart(appName: string, machineId: string, options: MachineMutationOptions = {}): Promise<void> {
    await this.#transport.send(this.#mutation("Machines_restart", appName, machineId, options, "restart"));
  }

  /** Suspends a started machine; the next start tries to resume from the snapshot. */
  async suspend(appName: string, machineId: string, options: MachineMutationOptions = {}): Promise<void> {
    await this.#transport.send(this.#mutation("Machines_suspend", appName, machineId, options, "suspend"));
  }

  /** Destroys a machine. Without `force` it must be stopped, suspended, failed or created (else 412). */
  async delete(appName: string, machineId: string, options: DeleteMachineOptions = {}): Promise<void> {
    await this.#transport.send({
      ...this.#mutation("Machines_delete", appName, machineId, options),
      method: "DELETE",
      path: apiPath("apps", appName, "machines", machineId),
      query: options.force ? { force: true, kill: true } : undefined,
    });
  }

  /**
   * Waits up to `timeoutSeconds` (1..60) on the server for the machine to reach a state. A 408 is not an
   * error here: it means "not yet", and the caller waits again while its own budget lasts.
   */
  async wait(appName: string, machineId: string, options: WaitMachineOptions = {}): Promise<WaitResult> {
    const timeoutSeconds = Math.min(60, Math.max(1, Math.round(options.timeoutSeconds ?? 60)));
    const states = typeof options.state === "string" ? [options.state] : options.state;
    try {
      const response = await this.#transport.send({
        operation: "Machines_wait",
        method: "GET",
        path: apiPath("apps", appName, "machines", machineId, "wait"),
        rateIdentifier: machineId,
        idempotent: true,
        query: { state: states, timeout: timeoutSeconds, version: options.version },
        schema: WaitMachineResponseSchema,
        timeoutMs: (timeoutSeconds + 15) * 1000,
        signal: options.signal,
      });
      return { reached: true, state: response.state, version: response.version };
    } catch (error) {
      if (error instanceof FlyRequestTimeoutError) return { reached: false };
      throw error;
    }
  }

  /** A POST action on one machine (start, stop, ...), with the lease nonce header when given. */
  #mutation(
    operation: string,
    appName: string,
    machineId: string,
    options: MachineMutationOptions,
    action?: string,
  ): FlyCall<undefined> {
    return {
      operation,
      method: "POST",
      path: action
        ? apiPath("apps", appName, "machines", machineId, action)
        : apiPath("apps", appName, "machines", machineId),
      rateIdentifier: machineId,
      idempotent: true,
      headers: leaseHeaders(options.leaseNonce),
      signal: options.signal,
    };
  }
}
