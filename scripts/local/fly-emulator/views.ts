/** API representations (spec field names) of the emulator's records. */
import type { AppRecord, LeaseRecord, MachineRecord } from "./records.ts";

/** `App`. */
export function appView(app: AppRecord) {
  return {
    id: app.id,
    name: app.name,
    status: app.status,
    organization: { name: app.orgSlug, slug: app.orgSlug, internal_numeric_id: 1 },
    machine_count: [...app.machines.values()].filter((machine) => machine.state !== "destroyed").length,
    volume_count: app.volumes.size,
    network: app.network,
    internal_numeric_id: app.internalNumericId,
  };
}

/** The lease inside the `{status, data}` envelope the real API answers with. */
export function leaseEnvelope(
  lease: LeaseRecord,
  version: string,
  withNonce: boolean,
): Record<string, unknown> {
  return {
    status: "success",
    data: {
      ...(withNonce ? { nonce: lease.nonce } : {}),
      expires_at: lease.expiresAt,
      owner: lease.owner,
      description: lease.description,
      version,
    },
  };
}

/** A config as the API answers it: `autostop` "off"/"stop" reported as booleans (as the real API does). */
function configView(config: Record<string, unknown>): Record<string, unknown> {
  const services = config.services;
  if (!Array.isArray(services)) return config;
  const autostopAsAnswered = (value: unknown) => value === "off" ? false : value === "stop" ? true : value;
  return {
    ...config,
    services: services.map((service) =>
      service && typeof service === "object" && "autostop" in service
        ? { ...service, autostop: autostopAsAnswered(service.autostop) }
        : service
    ),
  };
}

/** What a check reports: passing while started, critical otherwise or when the image is `-broken`. */
function checkResult(machine: MachineRecord): { status: string; output: string } {
  if (machine.state !== "started") return { status: "critical", output: "machine is not running" };
  if (machine.image.behaviour === "broken") {
    return { status: "critical", output: "HTTP GET /health: 500 Internal Server Error" };
  }
  return { status: "passing", output: "HTTP GET 200 OK" };
}

/** Health checks of a machine, one per configured check. */
function checksView(machine: MachineRecord): Record<string, unknown>[] {
  const checks = machine.config.checks;
  if (!checks || typeof checks !== "object") return [];
  const result = checkResult(machine);
  return Object.keys(checks).map((name) => ({ name, ...result, updated_at: machine.updatedAt }));
}

/** `Machine`; `includeLease` adds the lease (never its nonce). */
export function machineView(machine: MachineRecord, includeLease = false) {
  const now = Date.now() / 1000;
  const lease = includeLease && machine.lease && machine.lease.expiresAt > now
    ? {
      owner: machine.lease.owner,
      expires_at: machine.lease.expiresAt,
      description: machine.lease.description,
    }
    : undefined;
  return {
    id: machine.id,
    name: machine.name,
    state: machine.state,
    region: machine.region,
    instance_id: machine.version,
    version: machine.version,
    private_ip: machine.privateIp,
    config: configView(machine.config),
    image_ref: machine.image.ref,
    created_at: machine.createdAt,
    updated_at: machine.updatedAt,
    events: machine.events,
    checks: checksView(machine),
    host_status: machine.hostStatus ?? "ok",
    cordoned: machine.cordoned,
    ...(lease ? { lease } : {}),
  };
}

/** A stable fake 64-hex digest of a string. */
export function digestOf(text: string): string {
  let hash = 0x811c9dc5;
  const out: string[] = [];
  for (let round = 0; round < 8; round++) {
    for (const char of `${round}:${text}`) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
    out.push(hash.toString(16).padStart(8, "0"));
  }
  return out.join("");
}
