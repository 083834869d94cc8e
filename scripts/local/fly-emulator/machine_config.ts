/** Validation of machine create/update requests, with Fly's guest defaults and size rules. */
import { z } from "zod";
import { invalidArgument } from "./http_error.ts";

/** Regions the emulator knows. */
export const KNOWN_REGIONS: ReadonlySet<string> = new Set([
  "ams",
  "arn",
  "bom",
  "cdg",
  "dfw",
  "ewr",
  "fra",
  "gru",
  "iad",
  "jnb",
  "lax",
  "lhr",
  "nrt",
  "ord",
  "sin",
  "sjc",
  "syd",
  "yyz",
]);

const Guest = z.looseObject({
  cpu_kind: z.enum(["shared", "performance"]).optional(),
  cpus: z.number().int().optional(),
  memory_mb: z.number().int().optional(),
});

const Config = z.looseObject({
  image: z.string().min(1),
  guest: Guest.optional(),
  restart: z.looseObject({ policy: z.enum(["no", "always", "on-failure"]).optional() }).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
});

/** The body of a machine create or update. */
export const MachineRequestBody = z.looseObject({
  config: Config,
  name: z.string().optional(),
  region: z.string().optional(),
  skip_launch: z.boolean().optional(),
  skip_service_registration: z.boolean().optional(),
  skip_secrets: z.boolean().optional(),
  min_secrets_version: z.number().int().optional(),
  lease_ttl: z.number().int().positive().optional(),
  current_version: z.string().optional(),
});

/** A parsed create or update body. */
export type MachineRequest = z.infer<typeof MachineRequestBody>;

/** Fills guest defaults (shared, 1 CPU, 256 MB) and applies Fly's CPU and memory rules; 400 on violation. */
export function normalizedConfig(config: MachineRequest["config"]): Record<string, unknown> {
  const cpuKind = config.guest?.cpu_kind ?? "shared";
  const cpus = config.guest?.cpus ?? 1;
  const memory = config.guest?.memory_mb ?? (cpuKind === "shared" ? 256 * cpus : 2048 * cpus);
  if (![1, 2, 4, 8, 16].includes(cpus)) throw invalidArgument(`invalid config.guest.cpus: ${cpus}`);
  const [min, max, step] = cpuKind === "shared"
    ? [256 * cpus, 2048 * cpus, 256]
    : [2048 * cpus, 8192 * cpus, 1024];
  if (memory < min) throw invalidArgument(`invalid config.guest.memory_mb, minimum required ${min} MiB`);
  if (memory > max) throw invalidArgument(`max config.guest.memory_mb: ${max}`);
  if (memory % step !== 0) throw invalidArgument(`config.guest.memory_mb must be a multiple of ${step}`);
  return { ...config, guest: { ...config.guest, cpu_kind: cpuKind, cpus, memory_mb: memory } };
}

/** The region of a create: the one asked for (which must exist) or the default. */
export function checkedRegion(region: string | undefined, defaultRegion: string): string {
  if (region === undefined || region === "") return defaultRegion;
  if (!KNOWN_REGIONS.has(region)) throw invalidArgument(`unknown region '${region}'`);
  return region;
}
