/**
 * Benchmark: one health sweep over many active apps (`POST /functions/v1/check-fly-apps-health?wait=true`),
 * its wall time, apps per second, and the CPU time the invocation costs the function process.
 *
 * Usage: `deno task bench sweep`, or `LOCAL_DB_URL=postgres://... deno run -A scripts/bench/sweep.ts
 * [--apps=N] [--concurrency=N]` (env BENCH_SWEEP_APPS, default 1000; BENCH_SWEEP_CONCURRENCY, default the
 * product default SWEEP_CONCURRENCY=4).
 *
 * Setup: a scratch migrated database, the emulator in this process (fast profile: no added request latency,
 * 40 ms boot), the functions gateway as its own process with SWEEP_MIN_CHECK_AGE_S=0 (every app is due for
 * observation on every sweep) and a sweep limit and budget large enough for all apps. N users get the `pro`
 * tier, and all N are provisioned through the engine itself, in this process and 32 at a time, so rows, apps
 * and machines are exactly what the product creates.
 *
 * Rate limits: app creation is keyed by organization (documented 1 req/s, burst 3, per action), in the
 * emulator and in the client's limiter alike, so creating 1,000 apps under them takes about 17 minutes. The
 * setup therefore runs with the emulator's enforcement off and a client without limiter. The function's own
 * client keeps its limiter (the product default), so the timed sweeps are paced exactly as in production; a
 * sweep makes one `Machines_list` per app and one `Apps_list` per organization, so no rate-limit key sees more
 * than one call per sweep and the documented limits do not slow it at any N (the "API calls" column shows it).
 *
 * Then three sweeps, each observing all N apps (one `Machines_list` per app, one health record per row, one
 * `Apps_list` for orphans): the first call of the function instance with no added request latency, the same
 * again warm, and warm with 30 ms per API call (the realistic profile's request latency, added through the
 * emulator's delay fault on every operation). Wall time is the HTTP call as ops sees it; CPU time is the
 * gateway process' user + system time (all threads, /proc/<pid>/stat) across the call, which is what the
 * hosted runtime's 2 s CPU limit per request counts (there, async I/O waits are not CPU time either).
 */
import { loadConfig } from "../../supabase/functions/_shared/config.ts";
import { closeSql, getSql } from "../../supabase/functions/_shared/db/client.ts";
import { UserFlyAppsRepository } from "../../supabase/functions/_shared/db/user_fly_apps.ts";
import { createFlyClient } from "../../supabase/functions/_shared/fly/mod.ts";
import { createLogger } from "../../supabase/functions/_shared/log.ts";
import { mapBounded } from "../../supabase/functions/_shared/reconcile/bounded.ts";
import { reconcileUser } from "../../supabase/functions/_shared/reconcile/engine.ts";
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

const APPS = Math.max(1, intSetting("apps", "BENCH_SWEEP_APPS", 1000));
const CONCURRENCY = Math.max(1, intSetting("concurrency", "BENCH_SWEEP_CONCURRENCY", 4));
const SETUP_CONCURRENCY = 32;
const BUDGET_MS = 300_000;
/** The hosted Edge Functions limits the figures are to be read against. */
const HOSTED_CPU_LIMIT_MS = 2_000;

/** One timed sweep. */
interface SweepRun {
  label: string;
  wallMs: number;
  cpuMs: number;
  report: {
    duration_ms: number;
    observed: { checked: number; healthy: number; unhealthy: number; repaired: number };
    stopped_early: boolean;
    orphans: { found: string[] };
  };
  requests: number;
}

/** Provisions every user through the engine in this process; returns the wall time in ms. */
async function provisionAll(stack: BenchStack, users: string[]): Promise<number> {
  const config = loadConfig({ ...stack.services.functionEnv, DB_POOL_MAX: "16" });
  const deps = {
    config,
    // Without the client-side limiter: it would pace app creates to the documented 1/s per org (see above).
    fly: createFlyClient({ token: config.fly.apiToken, baseUrl: config.fly.apiBaseUrl, rateLimit: false }),
    repo: new UserFlyAppsRepository(getSql(config.db)),
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

async function timedSweep(stack: BenchStack, label: string): Promise<SweepRun> {
  const pid = stack.services.gateway.pid;
  const before = stack.emulator.requestCounts();
  const cpuBefore = await processCpuMs(pid);
  const started = performance.now();
  const report = await stack.callWait("check-fly-apps-health", { limit: APPS, budget_ms: BUDGET_MS });
  const wallMs = performance.now() - started;
  const cpuMs = (await processCpuMs(pid)) - cpuBefore;
  const counts = countsSince(before, stack.emulator.requestCounts());
  return {
    label,
    wallMs,
    cpuMs,
    report: report as unknown as SweepRun["report"],
    requests: totalAnswers(counts),
  };
}

/** Runs the benchmark against the cluster behind LOCAL_DB_URL; returns the lines it prints. */
export async function benchSweep(): Promise<string[]> {
  const stack = await startBenchStack({
    emulator: { latency: "fast", rateLimits: false },
    functionEnv: {
      SWEEP_LIMIT: String(Math.max(APPS, 100)),
      SWEEP_BUDGET_MS: String(BUDGET_MS),
      SWEEP_MIN_CHECK_AGE_S: "0",
      SWEEP_CONCURRENCY: String(CONCURRENCY),
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

    const runs = [
      await timedSweep(stack, "0 ms/call, first call"),
      await timedSweep(stack, "0 ms/call, warm"),
    ];
    const latencyRule = stack.emulator.faults.add({
      operation: "*",
      action: { type: "delay", ms: REALISTIC_LATENCY.requestMs },
    });
    runs.push(await timedSweep(stack, `${REALISTIC_LATENCY.requestMs} ms/call, warm`));
    stack.emulator.faults.remove(latencyRule);

    const rows = runs.map((run) => [
      run.label,
      String(run.report.observed.checked),
      run.wallMs.toFixed(0),
      (run.report.observed.checked / (run.wallMs / 1000)).toFixed(0),
      run.cpuMs.toFixed(0),
      ((run.cpuMs * 1000) / Math.max(1, run.report.observed.checked)).toFixed(0),
      `${(100 * run.cpuMs / HOSTED_CPU_LIMIT_MS).toFixed(0)}%`,
      String(run.requests),
      run.report.stopped_early ? "yes" : "no",
    ]);
    const unhealthy = runs.reduce((n, run) => n + run.report.observed.unhealthy, 0);
    return [
      `sweep bench: ${APPS} active apps (provisioned through the engine in ${
        (setupMs / 1000).toFixed(1)
      } s, ` +
      `${SETUP_CONCURRENCY} at a time), SWEEP_CONCURRENCY=${CONCURRENCY}, SWEEP_MIN_CHECK_AGE_S=0, ` +
      `limit ${APPS}, budget ${BUDGET_MS / 1000} s`,
      ...table(
        [
          "sweep",
          "observed",
          "wall ms",
          "apps/s",
          "CPU ms",
          "CPU µs/app",
          `of ${HOSTED_CPU_LIMIT_MS / 1000} s CPU`,
          "API calls",
          "stopped early",
        ],
        rows,
      ),
      `CPU = the function process' user+system time across the one invocation; hosted limit ` +
      `${HOSTED_CPU_LIMIT_MS / 1000} s CPU per request (wall 150 s Free / 400 s paid).`,
      `Rate limits: a sweep makes one Machines_list per app and one Apps_list, so no key of Fly's documented ` +
      `limits (1/s burst 3 per action`,
      `and app or machine) sees a second call: not rate-limited at this size or any other. The function's ` +
      `client limiter was on;`,
      `the emulator's enforcement was off only so the setup could create ${APPS} apps quickly (creates are ` +
      `limited per organization).`,
      `unhealthy observations: ${unhealthy}`,
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
