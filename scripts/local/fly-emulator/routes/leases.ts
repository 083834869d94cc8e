/** `/v1/apps/{app}/machines/{id}/lease`: acquire/refresh, show, release, in the `{status, data}` envelope. */
import { z } from "zod";
import type { EmulatorCore } from "../core.ts";
import { FlyHttpError, invalidArgument, notFound } from "../http_error.ts";
import { newLeaseNonce } from "../ids.ts";
import type { Operation } from "../operation.ts";
import { findApp, findMachine, leaseHeldError, readBody, unixNow } from "../request.ts";
import type { MachineRecord } from "../records.ts";
import { leaseEnvelope } from "../views.ts";
import { LEASE_OWNER } from "./machines.ts";

const LeaseBody = z.looseObject({
  ttl: z.number().int().positive().optional(),
  description: z.string().optional(),
});

const DEFAULT_TTL_SECONDS = 30;

function activeLease(machine: MachineRecord) {
  return machine.lease && machine.lease.expiresAt > unixNow() ? machine.lease : undefined;
}

/** The lease operations. */
export function leaseOperations(core: EmulatorCore): Operation[] {
  const path = "/v1/apps/:app_name/machines/:machine_id/lease";
  return [
    {
      id: "Machines_create_lease",
      method: "POST",
      path,
      handle: async (c) => {
        const machine = findMachine(findApp(core, c), c);
        const body = await readBody(c, LeaseBody, true);
        const queryTtl = c.req.query("ttl");
        if (queryTtl !== undefined && !/^\d+$/.test(queryTtl)) {
          throw invalidArgument("ttl must be an integer");
        }
        const ttl = body.ttl ?? (queryTtl ? Number(queryTtl) : DEFAULT_TTL_SECONDS);
        const nonce = c.req.header("fly-machine-lease-nonce");
        const current = activeLease(machine);
        if (nonce !== undefined) {
          if (!current) throw notFound("lease");
          if (current.nonce !== nonce) throw leaseHeldError(machine);
          current.expiresAt = unixNow() + ttl;
          return c.json(leaseEnvelope(current, machine.version, true), 201);
        }
        if (current) throw leaseHeldError(machine);
        machine.lease = {
          nonce: newLeaseNonce(),
          owner: LEASE_OWNER,
          description: body.description ?? "",
          expiresAt: unixNow() + ttl,
        };
        return c.json(leaseEnvelope(machine.lease, machine.version, true), 201);
      },
    },
    {
      id: "Machines_show_lease",
      method: "GET",
      path,
      handle: (c) => {
        const machine = findMachine(findApp(core, c), c);
        const lease = activeLease(machine);
        if (!lease) throw notFound("lease");
        return c.json(leaseEnvelope(lease, machine.version, false));
      },
    },
    {
      id: "Machines_release_lease",
      method: "DELETE",
      path,
      handle: (c) => {
        const machine = findMachine(findApp(core, c), c);
        const nonce = c.req.header("fly-machine-lease-nonce");
        if (!nonce) throw invalidArgument("fly-machine-lease-nonce header is required");
        const lease = activeLease(machine);
        if (!lease) throw new FlyHttpError(404, "not_found: lease not found");
        if (lease.nonce !== nonce) throw leaseHeldError(machine);
        machine.lease = undefined;
        return c.json({ status: "success", data: { ok: true } });
      },
    },
  ];
}
