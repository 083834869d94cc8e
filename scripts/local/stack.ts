/**
 * The services around a migrated local database: the Machines API emulator (unless a real Fly token is
 * given), the functions gateway with the environment the hosted runtime provides, the Vault secrets the
 * trigger and cron job read, the pg_net worker and the tier-outbox drainer. Used by `deno task dev` and by the end-to-end tests.
 */
import { parseEnv } from "node:util";
import postgres from "postgres";
import { loadConfig } from "../../supabase/functions/_shared/config.ts";
import { type FlyEmulatorOptions, startFlyEmulator } from "./fly-emulator/mod.ts";
import { type FunctionsGateway, startFunctionsGateway } from "./gateway_process.ts";
import { type NetWorker, startNetWorker } from "./net_worker.ts";
import { startTierDrainer, type TierDrainer } from "./drainer.ts";
import { paths } from "./paths.ts";
import { freePort } from "./process.ts";
import { upsertVaultSecret } from "./vault.ts";

/** Obviously fake keys standing in for the ones Supabase injects; never valid anywhere. */
export const LOCAL_KEYS = {
  anon: "local-anon-key-public-not-a-secret",
  serviceRole: "local-service-role-key-not-a-secret",
};

/** Options for {@link startServices}. */
export interface ServicesOptions {
  /** URL of the migrated database as the project role `postgres` (the functions' SUPABASE_DB_URL). */
  databaseUrl: string;
  /**
   * Extra or overriding function environment (e.g. FLY_API_TOKEN for the real API, ALERT_WEBHOOK_URL).
   * Empty values count as unset. Without a FLY_API_TOKEN here the emulator is started and used, and its URL
   * and token win over FLY_API_BASE_URL.
   */
  functionEnv?: Record<string, string>;
  /** Options of the Machines API emulator (latency profile, reserved names, ...). */
  emulator?: FlyEmulatorOptions;
  /** Fixed gateway port; a free one otherwise. */
  gatewayPort?: number;
  /** Receives the functions' output lines. */
  onFunctionOutput?: (line: string) => void;
  /** Whether to run the pg_net worker and the one-second tier-outbox drainer (default true). */
  netWorker?: boolean;
}

/** The running services. */
export interface Services {
  /** Gateway base URL; functions at `${gatewayUrl}/functions/v1/<name>`. */
  gatewayUrl: string;
  /** Emulator base URL, when the emulator runs. */
  flyApiUrl: string;
  /** The emulator, when it runs (undefined when a real FLY_API_TOKEN was given). */
  emulator?: Awaited<ReturnType<typeof startFlyEmulator>>;
  /** The admin secret (PROVISIONER_SECRET): ops, the console, `fly-apps-admin`. Never in the database. */
  provisionerSecret: string;
  /** The kick secret (KICK_SECRET), the one the database holds in Vault as `fly_kick_secret`. */
  kickSecret: string;
  /** The function environment in force. */
  functionEnv: Record<string, string>;
  gateway: FunctionsGateway;
  worker?: NetWorker;
  /** The tier-outbox drainer (runs with the worker: it stands in for pg_cron's one-second job). */
  drainer?: TierDrainer;
  /** Stops everything that was started, in reverse order. */
  stop(): Promise<void>;
}

/** A fresh local secret for `purpose` (the stack's default when the env file sets none). */
function localSecret(purpose: string): string {
  return `local-${purpose}-${crypto.randomUUID()}`;
}

/** `env` without its empty (or blank) values: an empty line in an env file never overrides a default. */
export function withoutEmptyValues(env: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value.trim() !== ""));
}

/**
 * The functions' local env file, as `supabase functions serve` reads it (`supabase/functions/.env`);
 * empty when absent. Names starting with SUPABASE_ are skipped, as the CLI does, and so are empty values.
 */
export async function readFunctionsEnvFile(
  path = `${paths.functions}/.env`,
): Promise<Record<string, string>> {
  // Trailing blanks are dropped first: node's parseEnv reads `NAME=  ` followed by a newline as NAME taking
  // the next line.
  const text = (await Deno.readTextFile(path).catch(() => "")).replace(/[ \t]+$/gm, "");
  const entries = Object.entries(parseEnv(text)).filter(([name]) => !name.startsWith("SUPABASE_"));
  return withoutEmptyValues(Object.fromEntries(entries) as Record<string, string>);
}

/** What {@link functionEnvironment} combines. */
interface FunctionEnvironmentParts {
  /** The env file's values, empty ones dropped. */
  given: Record<string, string>;
  gatewayUrl: string;
  databaseUrl: string;
  provisionerSecret: string;
  kickSecret: string;
  /** The emulator's API, when it stands in for Fly. */
  fly?: { url: string; token: string };
}

/** The functions' environment: the local defaults, then the env file's values, then the emulator's API. */
function functionEnvironment(
  { given, gatewayUrl, databaseUrl, provisionerSecret, kickSecret, fly }: FunctionEnvironmentParts,
) {
  return {
    SUPABASE_URL: gatewayUrl,
    SUPABASE_DB_URL: databaseUrl,
    SUPABASE_ANON_KEY: LOCAL_KEYS.anon,
    SUPABASE_SERVICE_ROLE_KEY: LOCAL_KEYS.serviceRole,
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: LOCAL_KEYS.anon }),
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: LOCAL_KEYS.serviceRole }),
    FLY_ORG_SLUG: "personal",
    FLY_DEFAULT_REGION: "sin",
    FLY_APP_IMAGE: "registry.fly.io/vyx-user-backend:latest",
    PROVISIONER_SECRET: provisionerSecret,
    KICK_SECRET: kickSecret,
    FLY_APP_NAME_KEY: localSecret("name-key"),
    ...given,
    ...(fly ? { FLY_API_BASE_URL: fly.url, FLY_API_TOKEN: fly.token } : {}),
  };
}

/**
 * Validates the env file's values as {@link startServices} will run the functions with them, before anything
 * starts (the database and the emulator's address are not known yet and stand in as placeholders): throws
 * the functions' `ConfigError`, which names the variables and never their values.
 */
export function validateFunctionEnv(functionEnv: Record<string, string>, gatewayPort: number): void {
  const given = withoutEmptyValues(functionEnv);
  loadConfig(functionEnvironment({
    given,
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    databaseUrl: "postgresql://postgres@127.0.0.1:5432/postgres",
    provisionerSecret: given.PROVISIONER_SECRET ?? localSecret("provisioner"),
    kickSecret: given.KICK_SECRET ?? localSecret("kick"),
    fly: given.FLY_API_TOKEN ? undefined : { url: "http://127.0.0.1:4280", token: "emulator-placeholder" },
  }));
}

/**
 * Starts emulator, gateway, Vault settings and worker; stops what started if a later step fails.
 * The function environment is validated with the functions' own schema (`loadConfig`) before the gateway
 * starts: an invalid one throws its `ConfigError`, which names the variables and never their values.
 */
export async function startServices(options: ServicesOptions): Promise<Services> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch((error) => console.error(error));
  };
  try {
    const given = withoutEmptyValues(options.functionEnv);
    const realFly = Boolean(given.FLY_API_TOKEN);
    const emulator = realFly ? undefined : await startFlyEmulator(options.emulator ?? {});
    if (emulator) stops.push(() => emulator.close());

    const provisionerSecret = given.PROVISIONER_SECRET ?? localSecret("provisioner");
    const kickSecret = given.KICK_SECRET ?? localSecret("kick");
    const port = options.gatewayPort ?? freePort();
    const gatewayUrl = `http://127.0.0.1:${port}`;
    const functionEnv = functionEnvironment({
      given,
      gatewayUrl,
      databaseUrl: options.databaseUrl,
      provisionerSecret,
      kickSecret,
      fly: emulator,
    });
    // The emulator enforces the app-create limit the functions are configured for (Fly documents none).
    emulator?.setAppCreateLimit(loadConfig(functionEnv).fly.appCreateRule);
    const gateway = await startFunctionsGateway({
      port,
      env: functionEnv,
      onOutput: options.onFunctionOutput,
    });
    stops.push(() => gateway.stop());

    const sql = postgres(options.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await upsertVaultSecret(sql, "project_url", gatewayUrl);
      // Only the kick secret goes into the database; the admin secret never does.
      await upsertVaultSecret(sql, "fly_kick_secret", kickSecret);
    } finally {
      await sql.end({ timeout: 2 });
    }

    const worker = options.netWorker === false ? undefined : await startNetWorker(options.databaseUrl);
    if (worker) stops.push(() => worker.stop());
    const drainer = worker ? startTierDrainer(options.databaseUrl) : undefined;
    if (drainer) stops.push(() => drainer.stop());

    return {
      gatewayUrl,
      flyApiUrl: functionEnv.FLY_API_BASE_URL ?? "https://api.machines.dev",
      emulator,
      provisionerSecret,
      kickSecret,
      functionEnv,
      gateway,
      worker,
      drainer,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
