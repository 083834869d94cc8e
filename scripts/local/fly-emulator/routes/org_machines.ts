/**
 * `GET /v1/orgs/{org_slug}/machines` (`Machines_org_list`): every machine of the organization, oldest
 * `updated_at` first, in pages of up to 1,000 behind an opaque cursor, with the spec's filters (`include_deleted`,
 * `region`, `state`, `summary`, `updated_after`) and the knobs of {@link OrgListingBehaviour}.
 */
import type { EmulatorCore, OrgListingBehaviour } from "../core.ts";
import { FlyHttpError, invalidArgument } from "../http_error.ts";
import type { EmulatorContext, Operation } from "../operation.ts";
import type { IndexEntry, ScanStart } from "../org_machine_index.ts";
import { queryFlag } from "../request.ts";
import { LISTABLE_STATES } from "./machines.ts";

const MAX_LIMIT = 1000;
const CURSOR_PREFIX = "om1:";
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** `OrgMachine`: the machine with its app's name; `config` holds only image, guest and metadata. */
function orgMachineView({ app, machine }: IndexEntry, summary: boolean) {
  const { image, guest, metadata } = machine.config;
  return {
    id: machine.id,
    name: machine.name,
    app_name: app.name,
    state: machine.state,
    region: machine.region,
    private_ip: machine.privateIp,
    created_at: machine.createdAt,
    updated_at: machine.updatedAt,
    version: machine.version,
    instance_id: machine.version,
    ...(summary ? {} : { config: { image, guest, metadata: metadata ?? {} } }),
  };
}

function encodeCursor(position: number): string {
  return btoa(`${CURSOR_PREFIX}${position}`).replaceAll("=", "");
}

function decodeCursor(cursor: string): number {
  let text = "";
  try {
    text = atob(cursor);
  } catch {
    // falls through to the error below
  }
  const position = Number(text.slice(CURSOR_PREFIX.length));
  if (!text.startsWith(CURSOR_PREFIX) || !Number.isSafeInteger(position) || position < 0) {
    throw invalidArgument("invalid cursor");
  }
  return position;
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return MAX_LIMIT;
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > MAX_LIMIT) {
    throw invalidArgument(`limit must be between 1 and ${MAX_LIMIT}`);
  }
  return limit;
}

/** Where the page starts: the cursor (which takes precedence), else `updated_after`, else the beginning. */
function scanStart(c: EmulatorContext): ScanStart {
  const cursor = c.req.query("cursor");
  if (cursor) return { afterSeq: decodeCursor(cursor) };
  const updatedAfter = c.req.query("updated_after");
  if (updatedAfter === undefined) return { afterSeq: 0 };
  const ms = Date.parse(updatedAfter);
  if (!RFC3339.test(updatedAfter) || Number.isNaN(ms)) {
    throw invalidArgument(`updated_after must be an RFC 3339 timestamp, got '${updatedAfter}'`);
  }
  return { updatedAfterMs: ms };
}

/** The query's filters and the listing knobs as one predicate over index entries. */
function entryFilter(c: EmulatorContext, behaviour: OrgListingBehaviour): (entry: IndexEntry) => boolean {
  const states = c.req.query("state")?.split(",").filter(Boolean);
  for (const state of states ?? []) {
    if (!LISTABLE_STATES.has(state)) throw invalidArgument(`invalid state '${state}'`);
  }
  const region = c.req.query("region");
  const includeDeleted = queryFlag(c, "include_deleted");
  const forgottenBefore = Date.now() - behaviour.deletedRetentionMs;
  const failedRegions = new Set(behaviour.errorRegions);
  return ({ machine, at }) => {
    if (machine.state === "destroyed" && (!includeDeleted || at < forgottenBefore)) return false;
    if (states && !states.includes(machine.state)) return false;
    if (region && machine.region !== region) return false;
    return !failedRegions.has(machine.region);
  };
}

/** The org listing operation. */
export function orgMachineOperations(core: EmulatorCore): Operation[] {
  return [
    {
      id: "Machines_org_list",
      method: "GET",
      path: "/v1/orgs/:org_slug/machines",
      handle: (c) => {
        if (c.req.param("org_slug") !== core.config.orgSlug) {
          throw new FlyHttpError(404, "not_found: organization not found");
        }
        const behaviour = core.orgListing;
        const limit = parseLimit(c.req.query("limit"));
        const start = scanStart(c);
        const accept = entryFilter(c, behaviour);
        const summary = queryFlag(c, "summary");
        const forcedEmpty = behaviour.emptyPages > 0;
        if (forcedEmpty) behaviour.emptyPages -= 1;
        const pageSize = forcedEmpty ? 0 : Math.min(limit, behaviour.maxPageSize);
        const { entries, position, more } = core.store.orgMachines.scan(start, pageSize, accept);
        const last = entries.at(-1);
        return c.json({
          machines: entries.map((entry) => orgMachineView(entry, summary)),
          ...(more ? { next_cursor: encodeCursor(position) } : {}),
          ...(last ? { last_machine_id: last.machine.id, last_updated_at: last.machine.updatedAt } : {}),
          ...(behaviour.errorRegions.length > 0 ? { error_regions: behaviour.errorRegions } : {}),
        });
      },
    },
  ];
}
