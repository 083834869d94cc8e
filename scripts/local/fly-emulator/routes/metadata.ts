/** `/v1/apps/{app}/machines/{id}/metadata`: get all, get/set/delete one key, bulk PATCH (PUT alias). */
import { z } from "zod";
import type { EmulatorCore } from "../core.ts";
import { FlyHttpError, notFound } from "../http_error.ts";
import type { EmulatorContext, Operation } from "../operation.ts";
import { findApp, findMachine, pathParam, readBody } from "../request.ts";
import type { MachineRecord } from "../records.ts";

const BulkBody = z.looseObject({
  metadata: z.record(z.string(), z.string().nullable()),
  machine_version: z.string().optional(),
});

function metadataOf(machine: MachineRecord): Record<string, string> {
  machine.config.metadata ??= {};
  return machine.config.metadata as Record<string, string>;
}

/** The metadata operations. Changing metadata does not mint a machine version. */
export function metadataOperations(core: EmulatorCore): Operation[] {
  const base = "/v1/apps/:app_name/machines/:machine_id/metadata";
  const machineOf = (c: EmulatorContext) => findMachine(findApp(core, c), c);
  /** The machine of a metadata write, and a function to call once it changed (it bumps `updated_at`). */
  const writeTarget = (c: EmulatorContext) => {
    const app = findApp(core, c);
    const machine = findMachine(app, c);
    return { machine, changed: () => core.lifecycle.touch(app, machine) };
  };
  const bulkUpdate = async (c: EmulatorContext) => {
    const { machine, changed } = writeTarget(c);
    const body = await readBody(c, BulkBody);
    if (body.machine_version !== undefined && body.machine_version !== machine.version) {
      throw new FlyHttpError(412, `failed_precondition: machine version is ${machine.version}`);
    }
    const metadata = metadataOf(machine);
    for (const [key, value] of Object.entries(body.metadata)) {
      if (value === null || value === "") delete metadata[key];
      else metadata[key] = value;
    }
    changed();
    return c.body(null, 204);
  };
  return [
    {
      id: "Machines_show_metadata",
      method: "GET",
      path: base,
      handle: (c) => c.json(metadataOf(machineOf(c))),
    },
    { id: "Machines_update_metadata", method: "PATCH", path: base, handle: bulkUpdate },
    { id: "Machines_update_metadata_deprecated", method: "PUT", path: base, handle: bulkUpdate },
    {
      id: "Machines_get_metadata_key",
      method: "GET",
      path: `${base}/:key`,
      handle: (c) => {
        const value = metadataOf(machineOf(c))[pathParam(c, "key")];
        if (value === undefined) throw notFound("metadata key");
        return c.json({ value });
      },
    },
    {
      id: "Machines_upsert_metadata",
      method: "POST",
      path: `${base}/:key`,
      handle: async (c) => {
        const { machine, changed } = writeTarget(c);
        const { value } = await readBody(c, z.looseObject({ value: z.string() }));
        metadataOf(machine)[pathParam(c, "key")] = value;
        changed();
        return c.body(null, 204);
      },
    },
    {
      id: "Machines_delete_metadata",
      method: "DELETE",
      path: `${base}/:key`,
      handle: (c) => {
        const { machine, changed } = writeTarget(c);
        delete metadataOf(machine)[pathParam(c, "key")];
        changed();
        return c.body(null, 204);
      },
    },
  ];
}
