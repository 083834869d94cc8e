/**
 * The whole local stack for end-to-end tests: a migrated scratch database of the test file's own (or the
 * main test database, for the pg_cron test), the Machines API emulator, the functions gateway running the
 * three functions as a separate process, the Vault secrets and the pg_net worker, all from `startServices`.
 * Plus what the tests need to look at it: the user's rows and events, the emulator's apps and machines, the
 * functions' log lines, and calls to the functions.
 */
import type postgres from "postgres";
import { LOCAL_KEYS, type Services, type ServicesOptions, startServices } from "../../scripts/local/stack.ts";
import type {
  EmulatorSnapshot,
  FaultRule,
  FlyEmulator,
  FlyEmulatorOptions,
} from "../../scripts/local/fly-emulator/mod.ts";
import { type FunctionsGateway, startFunctionsGateway } from "../../scripts/local/gateway_process.ts";
import type { MachineConfig } from "../../supabase/functions/_shared/fly/mod.ts";
import { appNameCandidate, type AppNaming } from "../../supabase/functions/_shared/engine/app_name.ts";
import { assert } from "../_support/assert.ts";
import { connect, type ScratchDatabase } from "../_support/database.ts";
import { createMigratedDatabase, createUsers } from "../_support/migrated_database.ts";
import { waitFor } from "../_support/wait.ts";
import { applyTierChanges } from "../_support/tier_outbox.ts";

export { LOCAL_KEYS };

/** The three functions. */
export type FunctionName = "provision-user-fly-app" | "deprovision-user-fly-app" | "check-fly-apps-health";

/** One emulated app as the emulator's state dump shows it. */
export type EmulatedApp = EmulatorSnapshot["apps"][number];
/** One emulated machine. */
export type EmulatedMachine = EmulatedApp["machines"][number];

/** Values the functions pass to every user app as Fly secrets; none may show up anywhere else. */
export interface AppSecretValues {
  /** Fly secret name -> value, as configured through FLY_APP_SECRETS. */
  readonly byName: Readonly<Record<string, string>>;
  /** The values that are real secrets (the project URL is not one). */
  readonly sensitive: readonly string[];
}

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Extra function environment. */
  functionEnv?: Record<string, string>;
  /** Emulator options (fast latency by default). */
  emulator?: FlyEmulatorOptions;
  /** Run the pg_net worker (default true). */
  netWorker?: boolean;
  /** Use this database instead of a fresh migrated scratch database (not dropped by `stop`). */
  databaseUrl?: string;
}

/** Answer of a function call. */
export interface FunctionAnswer {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** A body each function refuses with a 400 before doing anything (for warm-ups). */
const REFUSED_BODIES = {
  "check-fly-apps-health": { limit: 0 },
  "provision-user-fly-app": { user_id: "not-a-uuid" },
};

/** A running stack with helpers. */
export interface Stack {
  /** Client on the stack's database. */
  sql: postgres.Sql;
  /** The scratch database, when the stack made one. */
  db?: ScratchDatabase;
  services: Services;
  emulator: FlyEmulator;
  /** Every line the functions printed so far. */
  logs: string[];
  secrets: AppSecretValues;
  /** Auth headers with the admin secret (PROVISIONER_SECRET). */
  auth: Record<string, string>;
  /** The app naming the functions use (with the stack's FLY_APP_NAME_KEY), to compute candidate names. */
  naming: AppNaming;
  /** Calls a function: POST (default) with a JSON body or raw text, or GET with a query. */
  call(
    fn: FunctionName,
    options?: {
      method?: "POST" | "GET";
      body?: unknown;
      rawBody?: string;
      wait?: boolean;
      query?: Record<string, string>;
      headers?: Record<string, string>;
    },
  ): Promise<FunctionAnswer>;
  /** Runs one synchronous sweep and returns its report. */
  sweep(body?: Record<string, unknown>): Promise<SweepReport>;
  /**
   * Boots a worker of `fn` with a request it refuses (no side effect), so that a caller with a short timeout
   * of its own (pg_net: 5 s) does not meet a cold start on a loaded machine.
   */
  warmFunction(fn: keyof typeof REFUSED_BODIES): Promise<void>;
  /** Fresh auth users. */
  newUsers(count: number): Promise<string[]>;
  /** Inserts or updates the user's subscription tier (one committed statement). */
  setTier(userId: string, tier: "free" | "pro" | "elite"): Promise<void>;
  /** The user's app row, or undefined. */
  row(userId: string): Promise<AppRow | undefined>;
  /** The user's events in order. */
  events(userId: string): Promise<EventRow[]>;
  /** The user's emulated apps: those under any of the user's deterministic name candidates. */
  appsOf(userId: string): Promise<EmulatedApp[]>;
  /** Waits until the row records Fly as matching the latest desired state, with no reconcile in flight. */
  waitSettled(userId: string, timeoutMs?: number): Promise<AppRow>;
  /** The emulator's control routes, over HTTP (what a test outside this process could do too). */
  flyControl: {
    /** Everything the emulator holds (`GET /_emulator/state`). */
    state(): Promise<EmulatorSnapshot>;
    /** Adds a fault rule (`POST /_emulator/faults`); returns its id. */
    addFault(rule: FaultRule): Promise<string>;
    /** Removes every fault rule. */
    clearFaults(): Promise<void>;
    /** Sets a machine's state behind the functions' back, as a crash or a host would. */
    forceMachineState(
      app: string,
      machineId: string,
      state: "stopped" | "failed" | "suspended",
    ): Promise<void>;
  };
  /**
   * SIGKILLs the functions' process (in-flight reconciles and background work die with it, as when the
   * runtime kills a worker) and starts a fresh one on the same port with the same environment. Resolves
   * with the moment of the kill once the new process listens.
   */
  killAndRestartFunctions(): Promise<Date>;
  /**
   * Stops the services (the gateway lets background work finish first); the database and the emulator's
   * recorded state stay readable. Idempotent.
   */
  stopServices(): Promise<void>;
  /** Stops everything and drops the scratch database. */
  stop(): Promise<void>;
}

/** A `user_fly_apps` row (the columns the tests look at). */
export interface AppRow {
  id: string;
  user_id: string;
  status: string;
  desired_state: string;
  desired_generation: number;
  observed_generation: number;
  fly_app_name: string | null;
  machine_id: string | null;
  region: string | null;
  cpu_kind: string | null;
  cpu_count: number | null;
  memory_mb: number | null;
  health_status: string;
  next_attempt_at: Date | null;
  lease_owner: string | null;
  retry_count: number;
  deleted_at: Date | null;
  error_message: string | null;
  secrets_version: number | null;
  secrets_digest: string | null;
}

/** A `user_fly_app_events` row. */
export interface EventRow {
  seq: number;
  event_type: string;
  status: string;
  metadata: Record<string, unknown>;
  error_details: string | null;
}

/** The health function's report (see `_shared/sweep/sweep.ts`). */
export interface SweepReport {
  run_id: number | null;
  drift_rows: number;
  fleet: { full: boolean; pages: number; machines: number; rows: number; flagged: number } | {
    error: string;
  };
  reconciled: {
    attempted: number;
    converged: number;
    progressing: number;
    failed: number;
    terminal: number;
    lease_lost: number;
    errored: number;
  };
  observed: {
    checked: number;
    healthy: number;
    unhealthy: number;
    starting: number;
    drifted: number;
    repaired: number;
    repair_failed: number;
    errored: number;
  };
  orphans: { found: string[]; deleted: string[]; shared_network?: string[]; error?: string };
  stopped_early: boolean;
}

/** Every descendant process of `pid` (Linux /proc, children of every thread), deepest first. */
async function descendants(pid: number): Promise<number[]> {
  const children: number[] = [];
  try {
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      const text = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/children`).catch(() => "");
      children.push(...text.trim().split(/\s+/).filter(Boolean).map(Number));
    }
  } catch {
    return [];
  }
  const deeper = await Promise.all(children.map(descendants));
  return [...deeper.flat(), ...children];
}

/** Machines that exist (not destroyed). */
export function liveMachines(app: EmulatedApp): EmulatedMachine[] {
  return app.machines.filter((m) => !["destroyed", "destroying"].includes(m.state));
}

/** A machine's config in the shape the functions send it. */
export function configOf(machine: EmulatedMachine): MachineConfig {
  return machine.config as MachineConfig;
}

/** Starts the stack. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const db = options.databaseUrl ? undefined : await createMigratedDatabase();
  const databaseUrl = options.databaseUrl ?? db!.url;
  const sql = db?.sql ?? connect(databaseUrl, 2);
  const logs: string[] = [];
  const secrets: AppSecretValues = (() => {
    const byName = {
      SUPABASE_URL: "", // filled in below: the gateway URL is only known once the services run
      SUPABASE_SERVICE_ROLE_KEY: `e2e-service-role-${crypto.randomUUID()}`,
      OPENAI_API_KEY: `sk-e2e-openai-${crypto.randomUUID()}`,
      ANTHROPIC_API_KEY: `sk-ant-e2e-${crypto.randomUUID()}`,
    };
    return {
      byName,
      sensitive: [byName.SUPABASE_SERVICE_ROLE_KEY, byName.OPENAI_API_KEY, byName.ANTHROPIC_API_KEY],
    };
  })();
  let services: Services;
  try {
    services = await startServices({
      databaseUrl,
      netWorker: options.netWorker,
      emulator: { latency: "fast", token: `fly-e2e-${crypto.randomUUID()}`, ...options.emulator },
      onFunctionOutput: (line) => logs.push(line),
      functionEnv: {
        SUPABASE_SERVICE_ROLE_KEY: secrets.byName.SUPABASE_SERVICE_ROLE_KEY,
        OPENAI_API_KEY: secrets.byName.OPENAI_API_KEY,
        ANTHROPIC_API_KEY: secrets.byName.ANTHROPIC_API_KEY,
        FLY_APP_SECRETS: "SUPABASE_URL,SUPABASE_SERVICE_ROLE_KEY,OPENAI_API_KEY,ANTHROPIC_API_KEY",
        SWEEP_MIN_CHECK_AGE_S: "0",
        LOG_LEVEL: "debug",
        ...options.functionEnv,
      } satisfies ServicesOptions["functionEnv"],
    });
  } catch (error) {
    if (db) await db.drop();
    else await sql.end({ timeout: 2 });
    throw new Error(`the stack did not start: ${(error as Error).message}\n${logs.slice(-20).join("\n")}`, {
      cause: error,
    });
  }
  (secrets.byName as Record<string, string>).SUPABASE_URL = services.functionEnv.SUPABASE_URL;
  const emulator = services.emulator!;
  const auth = { Authorization: `Bearer ${services.provisionerSecret}` };
  const naming: AppNaming = {
    prefix: "vyx-user",
    hashLength: 12,
    key: services.functionEnv.FLY_APP_NAME_KEY,
  };

  const call: Stack["call"] = async (fn, o = {}) => {
    const url = new URL(`${services.gatewayUrl}/functions/v1/${fn}`);
    if (o.wait) url.searchParams.set("wait", "true");
    for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v);
    const method = o.method ?? "POST";
    const response = await fetch(url, {
      method,
      headers: { "content-type": "application/json", ...(o.headers ?? auth) },
      body: method === "GET" ? undefined : o.rawBody ?? JSON.stringify(o.body ?? {}),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body };
  };

  const row = async (userId: string) => {
    const [found] = await sql<AppRow[]>`
      select id, user_id, status, desired_state, desired_generation::int, observed_generation::int,
             fly_app_name, machine_id, region, cpu_kind, cpu_count, memory_mb, health_status,
             next_attempt_at, lease_owner, retry_count, deleted_at, error_message,
             secrets_version::int, secrets_digest
      from public.user_fly_apps where user_id = ${userId}`;
    return found;
  };

  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${services.flyApiUrl}/_emulator${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    assert(response.ok, `emulator ${method} ${path} answered ${response.status}: ${text}`);
    return JSON.parse(text);
  };
  const flyControl: Stack["flyControl"] = {
    state: () => control("GET", "/state"),
    addFault: async (rule) => (await control("POST", "/faults", rule)).id,
    clearFaults: async () => void await control("DELETE", "/faults"),
    forceMachineState: async (app, machineId, state) =>
      void await control("POST", `/apps/${app}/machines/${machineId}/state`, { state }),
  };

  let gateway: FunctionsGateway = services.gateway;
  const restartedGateways: FunctionsGateway[] = [];
  const killAndRestartFunctions = async () => {
    // The whole runtime dies at once, as a crashed host would: the gateway and its worker processes.
    const doomed = [...await descendants(gateway.pid), gateway.pid];
    for (const pid of doomed) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    const killedAt = new Date();
    await gateway.stop(); // returns once the killed process is gone
    gateway = await startFunctionsGateway({
      port: Number(new URL(services.gatewayUrl).port),
      env: services.functionEnv,
      onOutput: (line) => logs.push(line),
    });
    restartedGateways.push(gateway);
    return killedAt;
  };

  let servicesStopped: Promise<void> | undefined;
  const stack: Stack = {
    sql,
    db,
    services,
    emulator,
    logs,
    secrets,
    auth,
    naming,
    call,
    async sweep(body = {}) {
      // One sweep at a time: while a background sweep (a kick, the cron job) runs, wait for it to end.
      let answer = await call("check-fly-apps-health", { body, wait: true });
      for (const until = Date.now() + 60_000; answer.status === 409 && Date.now() < until;) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        answer = await call("check-fly-apps-health", { body, wait: true });
      }
      assert(answer.status === 200, `sweep answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      return answer.body as SweepReport;
    },
    async warmFunction(fn) {
      const answer = await call(fn, { body: REFUSED_BODIES[fn] });
      assert(answer.status === 400, `the refused warm-up of ${fn} answered ${answer.status}`);
    },
    async newUsers(count) {
      const ids = Array.from({ length: count }, () => crypto.randomUUID());
      if (db) return await createUsers(db, count);
      await sql`insert into auth.users (id) select unnest(${ids}::uuid[])`;
      return ids;
    },
    async setTier(userId, tier) {
      await sql`insert into public.user_subscriptions (user_id, tier) values (${userId}, ${tier})
                on conflict (user_id) do update set tier = excluded.tier, updated_at = now()`;
      // Let the drainer take the change now (with its kick), or without a drainer (no net worker) record the
      // desired state as it would: the row reflects the new tier when this returns.
      if (services.drainer) await services.drainer.drainNow();
      else await applyTierChanges(sql);
    },
    row,
    async events(userId) {
      return await sql<EventRow[]>`
        select seq::int, event_type, status, metadata, error_details from public.user_fly_app_events
        where user_id = ${userId} order by seq`;
    },
    async appsOf(userId) {
      const names = await Promise.all([0, 1, 2, 3, 4].map((i) => appNameCandidate(userId, i, naming)));
      const recorded = (await row(userId))?.fly_app_name;
      if (recorded) names.push(recorded);
      return emulator.state().apps.filter((app) => names.includes(app.name));
    },
    async waitSettled(userId, timeoutMs = 15_000) {
      return await waitFor(`user ${userId} to settle`, async () => {
        const current = await row(userId);
        return current && current.observed_generation >= current.desired_generation &&
          current.next_attempt_at === null && current.lease_owner === null && current;
      }, timeoutMs);
    },
    flyControl,
    killAndRestartFunctions,
    stopServices() {
      servicesStopped ??= (async () => {
        for (const restarted of restartedGateways) await restarted.stop();
        await services.stop();
      })();
      return servicesStopped;
    },
    async stop() {
      await stack.stopServices();
      if (db) await db.drop();
      else await sql.end({ timeout: 2 });
    },
  };
  return stack;
}

/** Fails when any of `values` occurs in `haystack` (what, for the message). */
export function assertAbsent(haystack: string, values: readonly string[], what: string): void {
  for (const value of values) {
    assert(!haystack.includes(value), `a secret value (${value.slice(0, 8)}…) appears in ${what}`);
  }
}
