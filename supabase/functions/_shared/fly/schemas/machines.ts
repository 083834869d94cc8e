import { z } from "zod";
import { MachineMountSchema } from "./volumes.ts";

/** `fly.MachineGuest`: CPU kind, CPU count and memory. */
export const MachineGuestSchema = z.looseObject({
  cpu_kind: z.string().optional(),
  cpus: z.number().int().optional(),
  memory_mb: z.number().int().optional(),
});

/** `fly.MachineCheck`: a named top-level health check. */
export const MachineCheckSchema = z.looseObject({
  type: z.string().optional(),
  port: z.number().int().optional(),
  interval: z.string().optional(),
  timeout: z.string().optional(),
  grace_period: z.string().optional(),
  method: z.string().optional(),
  path: z.string().optional(),
  protocol: z.string().optional(),
});

/** `fly.MachinePort`: a public port of a service. */
export const MachinePortSchema = z.looseObject({
  port: z.number().int().optional(),
  handlers: z.array(z.string()).optional(),
  force_https: z.boolean().optional(),
});

/** `fly.MachineService`; responses report `autostop` as a boolean for "off"/"stop". */
export const MachineServiceSchema = z.looseObject({
  protocol: z.string().optional(),
  internal_port: z.number().int().optional(),
  ports: z.array(MachinePortSchema).optional(),
  autostart: z.boolean().optional(),
  autostop: z.union([z.enum(["off", "stop", "suspend"]), z.boolean()]).optional(),
  min_machines_running: z.number().int().optional(),
});

/** `fly.MachineRestart`: restart policy. */
export const MachineRestartSchema = z.looseObject({
  policy: z.enum(["no", "always", "on-failure"]).optional(),
  max_retries: z.number().int().optional(),
});

/**
 * `fly.MachineConfig`. Only `image` is required; unknown fields are kept, because an update replaces the
 * whole config and must carry every field of the config it was derived from.
 */
export const MachineConfigSchema = z.looseObject({
  image: z.string(),
  env: z.record(z.string(), z.string()).optional(),
  guest: MachineGuestSchema.optional(),
  services: z.array(MachineServiceSchema).optional(),
  checks: z.record(z.string(), MachineCheckSchema).optional(),
  restart: MachineRestartSchema.optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  auto_destroy: z.boolean().optional(),
  mounts: z.array(MachineMountSchema).optional(),
});

/** A machine configuration (what you send on create and update; updates replace it whole). */
export type MachineConfig = z.infer<typeof MachineConfigSchema>;

/** Machine states reported by the API (persistent, transient and terminal). */
export type MachineState =
  | "created"
  | "starting"
  | "started"
  | "stopping"
  | "stopped"
  | "suspending"
  | "suspended"
  | "restarting"
  | "updating"
  | "replacing"
  | "destroying"
  | "destroyed"
  | "replaced"
  | "failed"
  | "launch_failed";

/** `CheckStatus` of one health check. */
export const CheckStatusSchema = z.looseObject({
  name: z.string(),
  status: z.string(),
  output: z.string().optional(),
  updated_at: z.string().optional(),
});

/** Status of one health check of a machine. */
export type CheckStatus = z.infer<typeof CheckStatusSchema>;

/**
 * `Machine`. `version` falls back to the deprecated `instance_id` so that it is always present; pass it as
 * `current_version` on update and as `version` on wait.
 */
export const MachineSchema = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  state: z.string(),
  region: z.string(),
  version: z.string().optional(),
  instance_id: z.string().optional(),
  private_ip: z.string().optional(),
  config: MachineConfigSchema,
  checks: z.array(CheckStatusSchema).optional(),
  image_ref: z.looseObject({ digest: z.string().optional() }).optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  nonce: z.string().optional(),
  /** `ok`, `unknown` or `unreachable` (the host is dead: the machine cannot start there). */
  host_status: z.string().optional(),
}).transform((machine, context) => {
  const version = machine.version ?? machine.instance_id;
  if (version === undefined) {
    context.addIssue({ code: "custom", message: "machine has neither version nor instance_id" });
    return z.NEVER;
  }
  return { ...machine, version, state: machine.state as MachineState };
});

/** A machine, with `version` always set. */
export type Machine = z.infer<typeof MachineSchema>;

/** `CreateMachineRequest`, the body of `POST /v1/apps/{app}/machines`. */
export interface CreateMachineRequest {
  /** The full configuration. Put a create token into `config.metadata` to find a silent success later. */
  config: MachineConfig;
  /** Machine name; generated when omitted. */
  name?: string;
  /** Region; immutable afterwards. Omitted means "near the API edge", so always set it. */
  region?: string;
  /** Create without booting; the machine rests at `created`. */
  skip_launch?: boolean;
  /** Create and cordon in one step. */
  skip_service_registration?: boolean;
  /** Do not inject app secrets. */
  skip_secrets?: boolean;
  /** Launch only once the app's secrets are at least this version (412 until then). */
  min_secrets_version?: number;
  /** Acquire a lease of this many seconds on the new machine; its nonce comes back in `Machine.nonce`. */
  lease_ttl?: number;
}

/** `UpdateMachineRequest`, the body of `POST /v1/apps/{app}/machines/{id}`: a full replacement. */
export interface UpdateMachineRequest extends CreateMachineRequest {
  /** Optimistic concurrency: reject with 409 when the machine is no longer at this version. */
  current_version?: string;
}

/** `200` body of a successful wait (the spec's `WaitMachineResponse`; the docs show only `{ok: true}`). */
export const WaitMachineResponseSchema = z.looseObject({
  ok: z.boolean().optional(),
  state: z.string().optional(),
  version: z.string().optional(),
  event_id: z.string().optional(),
});

/** `200` body of `POST .../start` (undocumented in the spec: `{previous_state, migrated, new_host}`). */
export const StartMachineResponseSchema = z.looseObject({
  previous_state: z.string().optional(),
  status: z.string().optional(),
  message: z.string().optional(),
});

/** Result of a start. */
export type StartMachineResponse = z.infer<typeof StartMachineResponseSchema>;

/** Machine metadata: string keys to string values. */
export const MachineMetadataSchema = z.record(z.string(), z.string());

/** `200` body of `GET .../metadata/{key}`. */
export const MetadataValueResponseSchema = z.looseObject({ value: z.string() });
