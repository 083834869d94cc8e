/**
 * Shared helpers of the end-to-end benchmarks (`provision.ts`, `sweep.ts`): an isolated stack (a scratch
 * migrated database of the cluster behind LOCAL_DB_URL, the Machines API emulator in this process, the
 * functions gateway as its own process, no net worker), paid users, authenticated function calls, the
 * gateway's CPU time, and plain-text tables.
 *
 * @module
 */
import { type Services, type ServicesOptions, startServices } from "../local/stack.ts";
import type { FlyEmulator, FlyEmulatorOptions } from "../local/fly-emulator/mod.ts";
import { createMigratedDatabase, createUsers } from "../../tests/_support/migrated_database.ts";
import type { ScratchDatabase } from "../../tests/_support/database.ts";
import { applyTierChanges } from "../../tests/_support/tier_outbox.ts";

/**
 * An integer setting: `--name=N` on the command line, else the environment variable `env`, else `fallback`.
 * (`deno task bench` passes no flags to the scripts, so the variables are the way to size its runs.)
 */
export function intSetting(name: string, env: string, fallback: number): number {
  const flag = Deno.args.find((arg) => arg.startsWith(`--${name}=`));
  const text = flag?.slice(name.length + 3) ?? Deno.env.get(env);
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} / ${env} must be an integer >= 0`);
  return value;
}

/** Per-app secrets as the seed passes them (values from the function environment; all fake here). */
export const BENCH_APP_SECRETS = {
  FLY_APP_SECRETS: "SUPABASE_URL,SUPABASE_ANON_KEY,OPENAI_API_KEY",
  OPENAI_API_KEY: "sk-bench-not-a-real-key",
};

/** A running isolated stack. */
export interface BenchStack {
  /** The scratch database (superuser client and URL). */
  db: ScratchDatabase;
  services: Services;
  /** The in-process emulator. */
  emulator: FlyEmulator;
  /** The functions' output lines so far (printed when something fails). */
  output: string[];
  /** POSTs `body` to `/functions/v1/<name>?wait=true` with the provisioner secret; throws unless 2xx. */
  callWait(name: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Stops the services and drops the scratch database. */
  stop(): Promise<void>;
}

/**
 * Starts the stack on a fresh scratch database; `functionEnv` is added to the functions' environment.
 * `netWorker` sends the trigger's kicks (off by default: the benchmark decides who reconciles when).
 */
export async function startBenchStack(
  options: { emulator: FlyEmulatorOptions; functionEnv?: Record<string, string>; netWorker?: boolean },
): Promise<BenchStack> {
  const db = await createMigratedDatabase();
  const output: string[] = [];
  let services: Services;
  try {
    const serviceOptions: ServicesOptions = {
      databaseUrl: db.url,
      emulator: options.emulator,
      netWorker: options.netWorker ?? false,
      functionEnv: { LOG_LEVEL: "warn", ...BENCH_APP_SECRETS, ...options.functionEnv },
      onFunctionOutput: (line) => output.push(line),
    };
    services = await startServices(serviceOptions);
  } catch (error) {
    await db.drop();
    throw error;
  }
  const emulator = services.emulator;
  if (!emulator) throw new Error("the benchmark stack must run the emulator");
  return {
    db,
    services,
    emulator,
    output,
    async callWait(name, body) {
      const response = await fetch(`${services.gatewayUrl}/functions/v1/${name}?wait=true`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${services.provisionerSecret}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${name} answered ${response.status}: ${text.slice(0, 500)}`);
      return JSON.parse(text);
    },
    async stop() {
      await services.stop();
      await db.drop();
    },
  };
}

/**
 * Creates `count` users on the `pro` tier. The tier trigger gives each a pending row and queues a kick that
 * nobody sends (no net worker runs), so the benchmark decides when and how each user is reconciled.
 */
export async function createPaidUsers(db: ScratchDatabase, count: number): Promise<string[]> {
  const users = await createUsers(db, count);
  await db.sql`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'pro'`;
  await applyTierChanges(db.sql);
  return users;
}

let clockTicks: number | undefined;

/**
 * CPU time (user + system, all threads) the process `pid` and its descendants have used so far, in ms, from
 * /proc (Linux only): its own, that of children it has reaped (the gateway's ended workers), and that of
 * the children still running (the gateway's live workers).
 */
export async function processCpuMs(pid: number): Promise<number> {
  if (clockTicks === undefined) {
    const { stdout } = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output()
      .catch(() => ({ stdout: new Uint8Array() }));
    clockTicks = Number(new TextDecoder().decode(stdout).trim()) || 100;
  }
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => undefined);
  if (stat === undefined) return 0; // ended meanwhile
  // Fields after the command name (which is in parentheses and may hold spaces): state is field 3, so
  // utime, stime, cutime and cstime (14 to 17) are at indexes 11 to 14 of the rest.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(11, 15).map(Number);
  let ms = (fields.reduce((sum, ticks) => sum + ticks, 0) * 1000) / clockTicks;
  for (const child of await childPids(pid)) ms += await processCpuMs(child);
  return ms;
}

/** Pids of the running children of `pid`, from /proc/<pid>/task/<tid>/children. */
async function childPids(pid: number): Promise<number[]> {
  const children: number[] = [];
  try {
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      const text = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/children`).catch(() => "");
      children.push(...text.split(" ").filter((p) => p.trim() !== "").map(Number));
    }
  } catch {
    // ended meanwhile
  }
  return children;
}

/** Answers per operation and status that `after` has on top of `before` (both from `requestCounts()`). */
export function countsSince(
  before: Record<string, Record<string, number>>,
  after: Record<string, Record<string, number>>,
): Record<string, Record<string, number>> {
  const diff: Record<string, Record<string, number>> = {};
  for (const [operation, byStatus] of Object.entries(after)) {
    for (const [status, count] of Object.entries(byStatus)) {
      const added = count - (before[operation]?.[status] ?? 0);
      if (added > 0) (diff[operation] ??= {})[status] = added;
    }
  }
  return diff;
}

/** Total answers in a `requestCounts()`-shaped record, optionally only of some statuses. */
export function totalAnswers(
  counts: Record<string, Record<string, number>>,
  status?: (status: string) => boolean,
): number {
  let total = 0;
  for (const byStatus of Object.values(counts)) {
    for (const [code, count] of Object.entries(byStatus)) if (!status || status(code)) total += count;
  }
  return total;
}

/** Lines of a plain-text table: the first column left-aligned, the others right-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string[] {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row: string[]) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ").trimEnd();
  return [
    line(headers),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map((r) => line(r.map(String))),
  ];
}

/** The median of some numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
