/**
 * Benchmark: the health sweep over a large fleet (`POST /functions/v1/check-fly-apps-health?wait=true`), in
 * its two tiers, with the wall time and the CPU time the invocation costs the function process.
 *
 * Usage: `deno task bench sweep`, or `LOCAL_DB_URL=postgres://... deno run -A scripts/bench/sweep.ts
 * [--apps=N]` (env BENCH_SWEEP_APPS, default 10000).
 *
 * Setup: a scratch migrated database, the emulator in this process (fast profile), the functions gateway as
 * its own process, N `pro` users provisioned through the controller itself (in this process, 64 at a time,
 * with the emulator's rate-limit enforcement off and a client without limiter, since app creates are limited
 * per organization), so rows, apps and machines are exactly what the product creates.
 *
 * Then, with 30 ms added to every Machines API call (the realistic profile's request latency), after one
 * untimed sweep that warms the function instance up:
 * - the fleet listing alone (`detail_limit: 0`): the first sweep lists every machine of the org (a full listing, in
 *   pages of 1,000) and writes their states, one statement per page; the second lists what changed since;
 * - the detail check at its maximum (`detail_limit: 1000`, SWEEP_MIN_CHECK_AGE_S=0): one `GET /apps/{app}/machines`
 *   per app checked, health and drift recorded in batches.
 * CPU time is the function process' user + system time across the call (/proc/<pid>/stat), which is what the
 * hosted runtime's 2 s CPU limit per request counts.
 */
import { loadConfig } from "../../supabase/functions/_shared/config.ts";
import { closeSql, getSql } from "../../supabase/functions/_shared/db/client.ts";

import { createFlyClient } from "../../supabase/functions/_shared/fly/mod.ts";
import { createLogger } from "../../supabase/functions/_shared/log.ts";
import { mapBounded } from "../../supabase/functions/_shared/bounded.ts";
import { reconcileUser } from "../../supabase/functions/_shared/controller/controller.ts";
import { REALISTIC_LATENCY } from "../local/fly-emulator/mod.ts";
import {
  type BenchStack,
  countsSince,
  createPaidUsers,
  intSetting,
  processCpuMs,
  startBenchStack,
  table,
  totalAnswers,
} from "./_support.ts";
import { createRepositories } from "../../supabase/functions/_shared/db/repositories.ts";

const APPS = Math.max(1, intSetting("apps", "BENCH_SWEEP_APPS", 10_000));
const SETUP_CONCURRENCY = 64;
const BUDGET_MS = 300_000;
/** The hosted Edge Functions limits the figures are to be read against. */
const HOSTED_CPU_LIMIT_MS = 2_000;

/** What the benchmark reads from a sweep report. */
interface SweepReportFigures {
  duration_ms: number;
  fleet: { full: boolean; pages: number; machines: number; rows: number; flagged: number } | {
    error: string;
  };
  observed: { checked: number; healthy: number; unhealthy: number; errored: number };
  stopped_early: boolean;
}

/** One timed sweep. */
interface SweepRun {
  label: string;
  wallMs: number;
  cpuMs: number;
  report: SweepReportFigures;
  requests: number;
}

/** Provisions every user through the engine in this process; returns the wall time in ms. */
async function provisionAll(stack: BenchStack, users: string[]): Promise<number> {
  const config = loadConfig({ ...stack.services.functionEnv, DB_POOL_MAX: "16" });
  const deps = {
    config,
    // Without the client-side limiter: it would pace app creates to the documented 1/s per org (see above).
    fly: createFlyClient({ token: config.fly.apiToken, baseUrl: config.fly.apiBaseUrl, rateLimit: false }),
    repo: createRepositories(getSql(config.db)),
    log: createLogger({ level: "error" }),
  };
  const started = performance.now();
  try {
    const results = await mapBounded(users, SETUP_CONCURRENCY, (userId) =>
      reconcileUser(deps, {
        userId,
        owner: `bench-setup:${userId}`,
        deadline: Date.now() + 120_000,
        reason: "bench_setup",
      }));
    const failed = results.filter((r) => r.outcome !== "converged");
    if (failed.length > 0) {
      throw new Error(
        `${failed.length} setup provisions did not converge, e.g. ${JSON.stringify(failed[0])}`,
      );
    }
  } finally {
    await closeSql();
  }
  return performance.now() - started;
}

async function timedSweep(stack: BenchStack, label: string, detailLimit: number): Promise<SweepRun> {
  const pid = stack.services.gateway.pid;
  const before = stack.emulator.requestCounts();
  const cpuBefore = await processCpuMs(pid);
  const started = performance.now();
  const report = await stack.callWait("check-fly-apps-health", {
    limit: 1,
    budget_ms: BUDGET_MS,
    detail_limit: detailLimit,
  });
  const wallMs = performance.now() - started;
  const cpuMs = (await processCpuMs(pid)) - cpuBefore;
  const counts = countsSince(before, stack.emulator.requestCounts());
  return {
    label,
    wallMs,
    cpuMs,
    report: report as unknown as SweepReportFigures,
    requests: totalAnswers(counts),
  };
}

/** The fleet part of a report, or a failure. */
function fleetOf(run: SweepRun) {
  const fleet = run.report.fleet;
  if ("error" in fleet) throw new Error(`${run.label}: the fleet listing failed: ${fleet.error}`);
  return fleet;
}

/** Runs the benchmark against the cluster behind LOCAL_DB_URL; returns the lines it prints. */
export async function benchSweep(): Promise<string[]> {
  const stack = await startBenchStack({
    emulator: { latency: "fast", rateLimits: false },
    functionEnv: {
      SWEEP_BUDGET_MS: String(BUDGET_MS),
      SWEEP_MIN_CHECK_AGE_S: "0",
      SWEEP_DETAIL_LIMIT: "1000",
    },
  });
  try {
    const users = await createPaidUsers(stack.db, APPS);
    const setupMs = await provisionAll(stack, users);
    const [{ active }] = await stack.db.sql`select count(*)::int as active from public.user_fly_apps
      where status = 'active'`;
    const machines = stack.emulator.state().apps.reduce((n, app) => n + app.machines.length, 0);
    if (active !== APPS || machines !== APPS) {
      throw new Error(`setup left ${active} active rows and ${machines} machines for ${APPS} users`);
    }

    stack.emulator.faults.add({ operation: "*", action: { type: "delay", ms: REALISTIC_LATENCY.requestMs } });
    // A first sweep warms the function instance up (module load, JIT); forgetting its run makes the next
    // listing a full one again.
    await timedSweep(stack, "warm-up", 0);
    await stack.db.sql`delete from public.fly_sweep_runs`;
    const full = await timedSweep(stack, "fleet listing: full", 0);
    const incremental = await timedSweep(stack, "fleet listing: changes since", 0);
    const detail = await timedSweep(stack, "fleet listing + 1,000 detail checks", 1_000);
    const runs = [full, incremental, detail];
    const fullFleet = fleetOf(full);
    if (fullFleet.rows !== APPS) {
      throw new Error(`the full listing observed ${fullFleet.rows} of ${APPS} rows`);
    }

    const rows = runs.map((run) => {
      const fleet = fleetOf(run);
      return [
        run.label,
        `${fleet.machines} / ${fleet.rows}`,
        String(fleet.pages),
        String(run.report.observed.checked),
        run.wallMs.toFixed(0),
        run.cpuMs.toFixed(0),
        `${(100 * run.cpuMs / HOSTED_CPU_LIMIT_MS).toFixed(0)}%`,
        String(run.requests),
        run.report.stopped_early ? "yes" : "no",
      ];
    });
    const detailCpuMs = Math.max(0, detail.cpuMs - incremental.cpuMs);
    const detailApps = detail.report.observed.checked;
    const appsWithinBudget = Math.floor((1_500 / Math.max(1, detailCpuMs)) * detailApps);
    return [
      `sweep bench: ${APPS} active apps (provisioned through the controller in ${
        (setupMs / 1000).toFixed(1)
      } s), ${REALISTIC_LATENCY.requestMs} ms per Machines API call, budget ${BUDGET_MS / 1000} s`,
      ...table(
        [
          "sweep",
          "machines / rows seen",
          "pages",
          "detail checks",
          "wall ms",
          "CPU ms",
          `of ${HOSTED_CPU_LIMIT_MS / 1000} s CPU`,
          "API calls",
          "stopped early",
        ],
        rows,
      ),
      `CPU = the function process' user+system time across the one invocation; hosted limit ` +
      `${HOSTED_CPU_LIMIT_MS / 1000} s CPU per request (wall 150 s Free / 400 s paid).`,
      `detail check: ${detailApps} apps cost ${detailCpuMs.toFixed(0)} ms CPU over the fleet listing ` +
      `(${((detailCpuMs * 1000) / Math.max(1, detailApps)).toFixed(0)} µs/app): about ${appsWithinBudget} ` +
      `apps per invocation within 1.5 s CPU.`,
      `BENCH sweep_fleet apps=${APPS} cpu_ms=${full.cpuMs.toFixed(0)} wall_ms=${full.wallMs.toFixed(0)} ` +
      `pages=${fullFleet.pages} incremental_cpu_ms=${incremental.cpuMs.toFixed(0)} ` +
      `incremental_wall_ms=${incremental.wallMs.toFixed(0)}`,
      `BENCH sweep_detail apps=${detailApps} cpu_ms=${detailCpuMs.toFixed(0)} ` +
      `apps_per_1500ms_cpu=${appsWithinBudget}`,
    ];
  } catch (error) {
    console.error(stack.output.slice(-40).join("\n"));
    throw error;
  } finally {
    await stack.stop();
  }
}

if (import.meta.main) {
  if (!Deno.env.get("LOCAL_DB_URL")) {
    console.error("LOCAL_DB_URL is not set: point it at the local cluster (deno task dev prints one)");
    Deno.exit(2);
  }
  const started = performance.now();
  for (const line of await benchSweep()) console.log(line);
  console.log(`(took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
