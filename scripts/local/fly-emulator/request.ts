/** Parsing and lookups shared by the route handlers; failures become Fly-style error answers. */
import { z } from "zod";
import type { EmulatorCore } from "./core.ts";
import { FlyHttpError, invalidArgument, notFound } from "./http_error.ts";
import type { EmulatorContext } from "./operation.ts";
import type { AppRecord, MachineRecord } from "./records.ts";

/** The JSON body parsed with `schema`; 400 `invalid_argument` naming the field otherwise. */
export async function readBody<T>(c: EmulatorContext, schema: z.ZodType<T>, optional = false): Promise<T> {
  const text = await c.req.text();
  if (text.trim() === "" && optional) return schema.parse({});
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalidArgument("request body is not valid JSON");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidArgument(`${issue.path.join(".") || "body"}: ${issue.message}`);
  }
  return parsed.data;
}

/** The app named in the path (our org's, visible yet); 403 for another org's name, 404 otherwise. */
export function findApp(core: EmulatorCore, c: EmulatorContext): AppRecord {
  const name = c.req.param("app_name") ?? "";
  const app = core.store.apps.get(name);
  if (app && performance.now() >= app.visibleFrom) return app;
  if (core.store.reservedNames.has(name)) throw new FlyHttpError(403, "unauthorized");
  throw new FlyHttpError(404, "app not found");
}

/** The machine named in the path; destroyed ones only with `allowDestroyed`. 404 `machine not found` otherwise. */
export function findMachine(app: AppRecord, c: EmulatorContext, allowDestroyed = false): MachineRecord {
  const id = c.req.param("machine_id") ?? "";
  if (!/^[0-9a-f]{14}$/.test(id)) throw invalidArgument(`invalid machine ID, '${id}'`);
  const machine = app.machines.get(id);
  if (!machine || (!allowDestroyed && machine.state === "destroyed")) throw notFound("machine");
  return machine;
}

/** A path parameter of the matched route (always present when the route declares it). */
export function pathParam(c: EmulatorContext, name: string): string {
  return c.req.param(name) ?? "";
}

/** Unix seconds now. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

/** Refuses a mutation of a machine leased by someone else: 409 unless the nonce header matches. */
export function requireLeaseNonce(machine: MachineRecord, c: EmulatorContext): void {
  const lease = machine.lease;
  if (!lease || lease.expiresAt <= unixNow()) return;
  if (c.req.header("fly-machine-lease-nonce") === lease.nonce) return;
  throw leaseHeldError(machine);
}

/** 409 `lease currently held by ...`. */
export function leaseHeldError(machine: MachineRecord): FlyHttpError {
  const expires = new Date((machine.lease?.expiresAt ?? 0) * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  return new FlyHttpError(
    409,
    `machine ID ${machine.id} lease currently held by ${machine.lease?.owner}, expires at ${expires}`,
  );
}

/** Whether a query flag is set (`true` or `1`). */
export function queryFlag(c: EmulatorContext, name: string): boolean {
  const value = c.req.query(name);
  return value === "true" || value === "1";
}
