/**
 * The one machine a user app runs: its full desired config (updates replace, so this is always complete),
 * the metadata that identifies it as ours, and the comparison that finds config drift.
 *
 * Only non-secret values go into `config.env`; secrets reach the machine through the app secrets API.
 *
 * @module
 */
import type { Machine, MachineConfig } from "../fly/mod.ts";
import type { Plan } from "../db/user_fly_apps.ts";
import { heldToDigest, sameImage } from "../image_ref.ts";

/** `config.metadata.managed_by` of every machine this system creates. */
export const MANAGED_BY = "fly-user-apps";
/** Port the user's backend listens on inside the machine. */
export const INTERNAL_PORT = 8080;
/** HTTP path of the health check. */
export const HEALTH_CHECK_PATH = "/health";
/** Name of the machine-level health check (in `config.checks` and `Machine.checks`). */
export const HEALTH_CHECK_NAME = "health";

/** Metadata keys that identify a machine of ours (and filter `GET /machines?metadata.<key>=`). */
export function machineIdentity(userId: string): Record<string, string> {
  return { managed_by: MANAGED_BY, user_id: userId };
}

/** Inputs of {@link desiredMachineConfig}. */
export interface MachineSpecInput {
  userId: string;
  plan: Plan;
  /** The image: the plan's override or the configured default. */
  image: string;
  /** Random token put into the metadata of a machine being created, to find it after an ambiguous failure. */
  createToken: string;
  /** The app's volume and where to mount it (from `ensureVolume` and the plan); absent: no mount. */
  volume?: VolumeMount | null;
  /** An ops hold: no request may start the machine (`autostart: false`) until it is released. */
  held?: boolean;
}

/** A volume to mount: its Fly id and the absolute path in the machine. */
export interface VolumeMount {
  volumeId: string;
  path: string;
}

/** The complete machine config for a user's plan. */
export function desiredMachineConfig(input: MachineSpecInput): MachineConfig {
  const { plan, userId } = input;
  return {
    image: input.image,
    guest: { cpu_kind: plan.cpu_kind, cpus: plan.cpus, memory_mb: plan.memory_mb },
    env: { USER_ID: userId, RUN_MODE: "user_dedicated" },
    services: plan.public_services
      ? [{
        protocol: "tcp",
        internal_port: INTERNAL_PORT,
        ports: [
          { port: 80, handlers: ["http"], force_https: true },
          { port: 443, handlers: ["tls", "http"] },
        ],
        // Fly's proxy starts the machine on a request (never a held one) and, when the plan lets the machine
        // idle, stops or suspends it when no request comes in.
        autostart: !input.held,
        autostop: plan.idle_action ?? "off",
        min_machines_running: (plan.idle_action ?? "off") === "off" ? 1 : 0,
      }]
      : [],
    checks: {
      [HEALTH_CHECK_NAME]: {
        type: "http",
        port: INTERNAL_PORT,
        method: "GET",
        path: HEALTH_CHECK_PATH,
        interval: "15s",
        timeout: "5s",
        grace_period: "30s",
      },
    },
    restart: { policy: "always" },
    metadata: { ...machineIdentity(userId), create_token: input.createToken },
    ...(input.volume ? { mounts: [{ volume: input.volume.volumeId, path: input.volume.path }] } : {}),
  };
}

/** `autostop` comes back as a boolean for off/stop; compare in one vocabulary. */
function normalizeAutostop(value: unknown): string {
  if (value === false || value === undefined || value === "off") return "off";
  if (value === true) return "stop";
  return String(value);
}

/** The parts of a config this system owns, in a comparable shape. */
function comparable(config: MachineConfig) {
  return {
    image: config.image,
    guest: {
      cpu_kind: config.guest?.cpu_kind ?? "shared",
      cpus: config.guest?.cpus ?? 1,
      memory_mb: config.guest?.memory_mb ?? 256,
    },
    env: Object.entries(config.env ?? {}).sort(([a], [b]) => a.localeCompare(b)),
    services: (config.services ?? []).map((service) => ({
      protocol: service.protocol,
      internal_port: service.internal_port,
      ports: (service.ports ?? []).map((p) => ({
        port: p.port,
        handlers: [...(p.handlers ?? [])].sort(),
        force_https: p.force_https ?? false,
      })),
      autostart: service.autostart ?? true,
      autostop: normalizeAutostop(service.autostop),
      min_machines_running: service.min_machines_running ?? 0,
    })),
    checks: Object.entries(config.checks ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([name, c]) => ({
      name,
      type: c.type,
      port: c.port,
      path: c.path,
      method: c.method ?? "GET",
      interval: c.interval,
      timeout: c.timeout,
    })),
    restart: config.restart?.policy ?? "on-failure",
    identity: [config.metadata?.managed_by, config.metadata?.user_id],
    mounts: (config.mounts ?? []).map((mount) => [mount.volume, mount.path]),
  };
}

/** Options of {@link configDrift}. */
export interface ConfigDriftOptions {
  /** The digest the observed machine runs (`image_ref.digest`): `repo:tag` running it equals `repo@digest`. */
  observedDigest?: string | null;
  /**
   * The digest the desired image must run (a rollback's, see `Plan.image_digest`): a machine of the same
   * repository running it has the desired image, whether its config names the tag or the digest.
   */
  desiredDigest?: string;
}

/** Names of the config parts where `observed` differs from `desired` (empty: no drift). */
export function configDrift(
  observed: MachineConfig,
  desired: MachineConfig,
  options: ConfigDriftOptions = {},
): string[] {
  const a = comparable(observed);
  const b = comparable(desired);
  const digests = { observed: options.observedDigest, desired: options.desiredDigest };
  if (
    sameImage(observed.image, desired.image, options.observedDigest) ||
    heldToDigest(observed.image, desired.image, digests)
  ) a.image = b.image;
  return (Object.keys(b) as (keyof typeof b)[]).filter((key) =>
    JSON.stringify(a[key]) !== JSON.stringify(b[key])
  );
}

/** The desired config for an update of `machine`, keeping the create token it was made with. */
export function updatedConfig(machine: Machine, desired: MachineConfig): MachineConfig {
  const token = machine.config.metadata?.create_token;
  return token ? { ...desired, metadata: { ...desired.metadata, create_token: token } } : desired;
}
