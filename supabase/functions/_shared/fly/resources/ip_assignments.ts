import {
  type AssignIpRequest,
  type IpAssignment,
  IpAssignmentSchema,
  ListIpAssignmentsResponseSchema,
} from "../schemas/ip_assignments.ts";
import type { FlyTransport } from "../transport.ts";
import { apiPath, type CallOptions } from "./paths.ts";

/** IP addresses of an app. Apps created through the Machines API have none until assigned. */
export class IpAssignmentsResource {
  readonly #transport: FlyTransport;

  /** Creates the resource on a transport. */
  constructor(transport: FlyTransport) {
    this.#transport = transport;
  }

  /** Lists the app's addresses. */
  async list(appName: string, options: CallOptions = {}): Promise<IpAssignment[]> {
    const response = await this.#transport.send({
      operation: "App_IPAssignments_list",
      method: "GET",
      path: apiPath("apps", appName, "ip_assignments"),
      rateIdentifier: appName,
      idempotent: true,
      schema: ListIpAssignmentsResponseSchema,
      signal: options.signal,
    });
    return response.ips;
  }

  /** Assigns an address. Not retried after an ambiguous failure: list first to see whether it arrived. */
  assign(appName: string, request: AssignIpRequest, options: CallOptions = {}): Promise<IpAssignment> {
    return this.#transport.send({
      operation: "App_IPAssignments_create",
      method: "POST",
      path: apiPath("apps", appName, "ip_assignments"),
      rateIdentifier: appName,
      idempotent: false,
      body: request,
      schema: IpAssignmentSchema,
      signal: options.signal,
    });
  }

  /** Releases an address (204). */
  async remove(appName: string, ip: string, options: CallOptions = {}): Promise<void> {
    await this.#transport.send({
      operation: "App_IPAssignments_delete",
      method: "DELETE",
      path: apiPath("apps", appName, "ip_assignments", ip),
      rateIdentifier: appName,
      idempotent: true,
      signal: options.signal,
    });
  }
}
