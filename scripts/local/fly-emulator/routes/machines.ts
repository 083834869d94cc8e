/** `/v1/apps/{app}/machines`: create, list (filters, pages), show, update, delete. */
import type { EmulatorCore } from "../core.ts";
import { FlyHttpError, invalidArgument } from "../http_error.ts";
import { newLeaseNonce, newMachineId, newMachineName, newPrivateIp, newUlid } from "../ids.ts";
import {
  checkedRegion,
  type MachineRequest,
  MachineRequestBody,
  normalizedConfig,
} from "../machine_config.ts";
import type { EmulatorContext, Operation } from "../operation.ts";
import { findApp, findMachine, queryFlag, readBody, requireLeaseNonce, unixNow } from "../request.ts";
import type { AppRecord, MachineRecord } from "../records.ts";
import { destroy, launch, update } from "../transitions.ts";
import { machineView } from "../views.ts";
import { checkMounts } from "./volumes.ts";

/** Owner recorded on leases taken with the emulator's token. */
export const LEASE_OWNER = "emulator-user@tokens.fly.io";

function requireSecretsVersion(app: AppRecord, request: MachineRequest): void {
  const wanted = request.min_secrets_version;
  if (wanted !== undefined && wanted > app.secretsAvailableVersion) {
    throw new FlyHttpError(412, `min_secrets_version ${wanted} is not yet available on this app`);
  }
}

function createMachine(core: EmulatorCore, app: AppRecord, request: MachineRequest): MachineRecord {
  const region = checkedRegion(request.region, core.config.defaultRegion);
  const config = normalizedConfig(request.config);
  checkMounts(app, config, region);
  requireSecretsVersion(app, request);
  const image = core.images.resolve(request.config.image);
  const now = new Date().toISOString();
  const machine: MachineRecord = {
    id: newMachineId(),
    name: request.name ?? newMachineName(),
    region,
    state: "created",
    version: newUlid(),
    config,
    image,
    privateIp: newPrivateIp(core.store.networkId(app.network)),
    createdAt: now,
    updatedAt: now,
    events: [],
    cordoned: request.skip_service_registration === true,
    stillActiveUntil: 0,
    launching: false,
    resumable: false,
    versions: [],
  };
  if (request.lease_ttl) {
    machine.lease = {
      nonce: newLeaseNonce(),
      owner: LEASE_OWNER,
      description: "",
      expiresAt: unixNow() + request.lease_ttl,
    };
  }
  app.machines.set(machine.id, machine);
  core.lifecycle.setState(app, machine, "created", "user");
  if (!request.skip_launch) launch(core, app, machine);
  return machine;
}

/** States the `state` filter of the machine listings accepts. */
export const LISTABLE_STATES: ReadonlySet<string> = new Set([
  "created",
  "started",
  "stopped",
  "suspended",
  "failed",
]);

function listFilter(c: EmulatorContext): (machine: MachineRecord) => boolean {
  const params = new URL(c.req.url).searchParams;
  const metadata = [...params].filter(([key]) => key.startsWith("metadata.")).map((
    [key, value],
  ) => [key.slice("metadata.".length), value]);
  const states = params.get("state")?.split(",").filter(Boolean);
  for (const state of states ?? []) {
    if (!LISTABLE_STATES.has(state)) throw invalidArgument(`invalid state '${state}'`);
  }
  const region = params.get("region");
  const includeDeleted = queryFlag(c, "include_deleted");
  return (machine) => {
    if (machine.state === "destroyed" && !includeDeleted) return false;
    if (states && !states.includes(machine.state)) return false;
    if (region && machine.region !== region) return false;
    const actual = (machine.config.metadata ?? {}) as Record<string, string>;
    return metadata.every(([key, value]) => actual[key] === value);
  };
}

/** The machine CRUD operations. */
export function machineOperations(core: EmulatorCore): Operation[] {
  return [
    {
      id: "Machines_list",
      method: "GET",
      path: "/v1/apps/:app_name/machines",
      handle: (c) => {
        const app = findApp(core, c);
        const limitText = c.req.query("limit");
        const limit = limitText === undefined ? 1000 : Number(limitText);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
          throw invalidArgument("limit must be between 1 and 1000");
        }
        const matching = [...app.machines.values()].filter(listFilter(c)).sort((a, b) =>
          a.id.localeCompare(b.id)
        );
        const cursor = c.req.query("cursor");
        const after = cursor ? atob(cursor) : "";
        const rest = matching.filter((machine) => machine.id > after);
        const page = rest.slice(0, limit);
        if (rest.length > page.length) c.header("fly-next-cursor", btoa(page[page.length - 1].id));
        const includeLeases = queryFlag(c, "include_leases");
        return c.json(page.map((machine) => machineView(machine, includeLeases)));
      },
    },
    {
      id: "Machines_create",
      method: "POST",
      path: "/v1/apps/:app_name/machines",
      handle: async (c) => {
        const app = findApp(core, c);
        const machine = createMachine(core, app, await readBody(c, MachineRequestBody));
        const view = machineView(machine);
        return c.json(machine.lease ? { ...view, nonce: machine.lease.nonce } : view);
      },
    },
    {
      id: "Machines_show",
      method: "GET",
      path: "/v1/apps/:app_name/machines/:machine_id",
      handle: (c) => {
        const machine = findMachine(findApp(core, c), c, true);
        const version = c.req.query("version");
        if (version && version !== machine.version) {
          const old = machine.versions.find((entry) => entry.version === version);
          if (!old) throw new FlyHttpError(404, "not_found: machine version not found");
          return c.json({
            ...machineView(machine),
            state: "replaced",
            version,
            instance_id: version,
            config: old.config,
          });
        }
        return c.json(machineView(machine, queryFlag(c, "include_leases")));
      },
    },
    {
      id: "Machines_update",
      method: "POST",
      path: "/v1/apps/:app_name/machines/:machine_id",
      handle: async (c) => {
        const app = findApp(core, c);
        const machine = findMachine(app, c);
        const request = await readBody(c, MachineRequestBody);
        requireLeaseNonce(machine, c);
        if (request.current_version !== undefined && request.current_version !== machine.version) {
          throw new FlyHttpError(
            409,
            `aborted: machine version mismatch: current version is ${machine.version}`,
          );
        }
        if (request.region && request.region !== machine.region) {
          throw invalidArgument("region cannot be changed");
        }
        if (request.name && request.name !== machine.name) throw invalidArgument("name cannot be changed");
        const config = normalizedConfig(request.config);
        checkMounts(app, config, machine.region, machine.id);
        requireSecretsVersion(app, request);
        const image = core.images.resolve(request.config.image);
        update(core, app, machine, { config, image }, request.skip_launch === true);
        return c.json(machineView(machine));
      },
    },
    {
      id: "Machines_delete",
      method: "DELETE",
      path: "/v1/apps/:app_name/machines/:machine_id",
      handle: (c) => {
        const app = findApp(core, c);
        const machine = findMachine(app, c);
        requireLeaseNonce(machine, c);
        destroy(core, app, machine, queryFlag(c, "force") || queryFlag(c, "kill"));
        return c.json({ ok: true });
      },
    },
  ];
}
