/**
 * The org-wide machine listing, `GET /v1/orgs/{org_slug}/machines`: every machine of every app of an
 * organization, in pages of up to 1,000, oldest `updated_at` first, with an `updated_after` filter for
 * incremental polling.
 */
import { type OrgMachine, OrgMachinesResponseSchema } from "../schemas/org_machines.ts";
import type { FlyTransport } from "../transport.ts";
import { apiPath, type CallOptions } from "./paths.ts";

/** The largest page the API serves (also its default). */
export const ORG_MACHINES_MAX_LIMIT = 1000;

/** Filters of the org listing (the same on every page of one listing). */
export interface ListOrgMachinesOptions extends CallOptions {
  /**
   * `summary=true`: each machine comes without `config`, so without its image, guest size and metadata
   * (`managed_by`, `user_id`, ...). What remains: id, name, app_name, state, region, private_ip, created_at,
   * updated_at and version. Match machines to users by `app_name` then.
   */
  readonly summary?: boolean;
  /** `include_deleted=true`: destroyed machines too (they stay listed for a while after their destruction). */
  readonly includeDeleted?: boolean;
  /**
   * `updated_after`: only machines changed after this instant (RFC 3339). The listing is "a point in time" and
   * late changes may arrive out of order, so poll from a high-water mark minus a few minutes of overlap.
   * Ignored by the API once a `cursor` is given.
   */
  readonly updatedAfter?: Date | string;
  /** `region`: only machines in this region. */
  readonly region?: string;
  /** `state`: only machines in one of these states. */
  readonly states?: readonly ("created" | "started" | "stopped" | "suspended")[];
  /**
   * `limit`: page size, 1..{@link ORG_MACHINES_MAX_LIMIT} (default the maximum). Advisory: pages may be
   * shorter, or empty, while more machines remain.
   */
  readonly limit?: number;
}

/** Options of {@link OrgMachinesResource.listPage}. */
export interface ListOrgMachinesPageOptions extends ListOrgMachinesOptions {
  /** `next_cursor` of the previous page; takes precedence over `updatedAfter`. */
  readonly cursor?: string;
}

/** One page of the org listing. */
export interface OrgMachinesPage {
  /** The machines of this page (possibly none, even when more remain). */
  readonly machines: OrgMachine[];
  /** Cursor of the next page; absent on the last page. */
  readonly nextCursor?: string;
  /**
   * Regions the API could not list this time (`error_regions`). Non-empty means a partial answer: machines in
   * these regions may be missing, so their absence proves nothing.
   */
  readonly errorRegions: string[];
  /** `last_machine_id`, when the API sends it. */
  readonly lastMachineId?: string;
  /** `last_updated_at`, when the API sends it. */
  readonly lastUpdatedAt?: string;
}

/** The result of {@link OrgMachinesResource.listAll}. */
export interface OrgMachinesListing {
  /** Every machine listed, in the API's order (a machine that changed while paging may appear twice). */
  readonly machines: OrgMachine[];
  /** Union of every page's `error_regions`: the listing is partial for these regions. */
  readonly errorRegions: string[];
  /** Number of pages fetched. */
  readonly pages: number;
}

function queryOf(options: ListOrgMachinesPageOptions) {
  const limit = options.limit;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= ORG_MACHINES_MAX_LIMIT)) {
    throw new RangeError(`limit must be an integer from 1 to ${ORG_MACHINES_MAX_LIMIT}, got ${limit}`);
  }
  const updatedAfter = options.updatedAfter instanceof Date
    ? options.updatedAfter.toISOString()
    : options.updatedAfter;
  return {
    summary: options.summary || undefined,
    include_deleted: options.includeDeleted || undefined,
    updated_after: options.cursor === undefined ? updatedAfter : undefined,
    region: options.region,
    state: options.states?.join(",") || undefined,
    limit,
    cursor: options.cursor,
  };
}

/**
 * The org machine listing. Rate limited like every action: per org slug, 1 request/s with bursts of 3 (the
 * documented default), so a 10,000-machine listing in pages of 1,000 takes about 7 s of limiter waits.
 */
export class OrgMachinesResource {
  readonly #transport: FlyTransport;

  /** Creates the resource on a transport. */
  constructor(transport: FlyTransport) {
    this.#transport = transport;
  }

  /** Fetches one page. Throws `RangeError` for a `limit` outside 1..1000 before sending anything. */
  async listPage(orgSlug: string, options: ListOrgMachinesPageOptions = {}): Promise<OrgMachinesPage> {
    const body = await this.#transport.send({
      operation: "Machines_org_list",
      method: "GET",
      path: apiPath("orgs", orgSlug, "machines"),
      rateIdentifier: orgSlug,
      idempotent: true,
      query: queryOf(options),
      schema: OrgMachinesResponseSchema,
      signal: options.signal,
    });
    return {
      machines: body.machines,
      nextCursor: body.next_cursor || undefined,
      errorRegions: body.error_regions,
      lastMachineId: body.last_machine_id,
      lastUpdatedAt: body.last_updated_at,
    };
  }

  /**
   * Yields every page, following `next_cursor` until a page comes without one (short and empty pages do not
   * end the listing). Stop early by breaking out of the loop; `signal` cancels the request in flight.
   */
  async *pages(orgSlug: string, options: ListOrgMachinesOptions = {}): AsyncGenerator<OrgMachinesPage> {
    let cursor: string | undefined;
    do {
      const page = await this.listPage(orgSlug, { ...options, cursor });
      yield page;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }

  /** Fetches every page and concatenates them; for large fleets prefer {@link pages} (one page in memory). */
  async listAll(orgSlug: string, options: ListOrgMachinesOptions = {}): Promise<OrgMachinesListing> {
    const machines: OrgMachine[] = [];
    const errorRegions = new Set<string>();
    let pages = 0;
    for await (const page of this.pages(orgSlug, options)) {
      pages += 1;
      machines.push(...page.machines);
      page.errorRegions.forEach((region) => errorRegions.add(region));
    }
    return { machines, errorRegions: [...errorRegions], pages };
  }
}
