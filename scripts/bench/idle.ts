/**
 * `deno task bench idle`: what scale to zero saves, and what the first request after an idle spell waits.
 *
 * 1. A simulated day: `--users` machines (default 100) on a plan with `idle_action: stop`, behind the
 *    emulator's proxy, in compressed time (one simulated minute = `--tick-ms` real ms, default 20). Users come
 *    and go in sessions (mean 30 minutes) so that 10 % are active at a time; an active user sends one request a
 *    minute. The proxy stops a machine after 5 idle minutes, one pass a minute (Fly: one machine per app and
 *    region per pass). Each minute the machines that are not stopped count as running.
 *    `cost_ratio` = (running share x the plan's running price + the rest x its storage price) / the running
 *    price, with the prices of the project's `fly_prices` (what `idle_action: off` costs: the running price).
 * 2. Wake latency with the emulator's realistic latency (start 1.2 s, resume 0.3 s): `--wakes` machines
 *    (default 20) per idle action are idled, then woken by one HTTP request each through the proxy, 3 rounds.
 *
 * Prints `BENCH idle users=… running_share=… cost_ratio=… wake_p50_ms=… wake_p95_ms=…` (the wake figures
 * of `stop`, the default) plus `suspend_wake_p50_ms` / `suspend_wake_p95_ms`.
 *
 * @module
 */
import { type FlyEmulator, startFlyEmulator } from "../local/fly-emulator/mod.ts";
import { createFlyClient, FlyNotFoundError } from "../../supabase/functions/_shared/fly/mod.ts";
import { desiredMachineConfig } from "../../supabase/functions/_shared/engine/machine_spec.ts";
import type { Plan } from "../../supabase/functions/_shared/db/user_fly_apps.ts";
import type { IdleAction } from "../../supabase/functions/_shared/vocabulary.ts";
import { mapBounded } from "../../supabase/functions/_shared/bounded.ts";
import { createMigratedDatabase } from "../../tests/_support/migrated_database.ts";
import { intSetting } from "./_support.ts";

const users = intSetting("users", "BENCH_IDLE_USERS", 100);
const tickMs = intSetting("tick-ms", "BENCH_IDLE_TICK_MS", 20);
const wakes = intSetting("wakes", "BENCH_IDLE_WAKES", 20);
const MINUTES_PER_DAY = 24 * 60;
const ACTIVE_SHARE = 0.1;
const SESSION_MINUTES = 30;
const IDLE_WINDOW_MINUTES = 5;

const PLAN: Plan = {
  tier: "pro",
  region: "sin",
  cpu_kind: "shared",
  cpus: 2,
  memory_mb: 512,
  image: null,
  public_services: true,
  monthly_cost_estimate_usd: null,
};

/** Creates one app with one machine per user on `PLAN` with `idleAction`; returns the app names. */
async function provision(emulator: FlyEmulator, count: number, idleAction: IdleAction): Promise<string[]> {
  const fly = createFlyClient({ token: emulator.token, baseUrl: emulator.url });
  const names = Array.from({ length: count }, (_, i) => `idle-${idleAction}-${i}`);
  await mapBounded(names, 8, async (name) => {
    await fly.apps.create({ name, org_slug: emulator.orgSlug });
    while (!(await fly.apps.get(name).then(() => true, (e) => !(e instanceof FlyNotFoundError)))) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const config = desiredMachineConfig({
      userId: crypto.randomUUID(),
      plan: { ...PLAN, idle_action: idleAction },
      image: "registry.example.com/user-backend:1",
      createToken: crypto.randomUUID(),
    });
    const machine = await fly.machines.create(name, { region: PLAN.region, config });
    while (!(await fly.machines.wait(name, machine.id, { timeoutSeconds: 10 })).reached);
  });
  return names;
}

/** The machines of the emulator that are not stopped, suspended or destroyed. */
function runningCount(emulator: FlyEmulator): number {
  return emulator.state().apps.flatMap((app) => app.machines)
    .filter((m) => !["stopped", "suspended", "destroyed"].includes(m.state)).length;
}

/** Part 1: the running share of a simulated day. */
async function simulateDay(): Promise<number> {
  // The proxy measures idle time on the simulated clock and passes once a simulated minute, whatever the
  // machine's load does to the real length of a tick.
  let minute = 0;
  const emulator = await startFlyEmulator({
    rateLimits: false,
    proxy: { idleWindowMs: IDLE_WINDOW_MINUTES * 60_000, passIntervalMs: 0, clock: () => minute * 60_000 },
  });
  try {
    const names = await provision(emulator, users, "stop");
    const leave = 1 / SESSION_MINUTES;
    const join = leave * ACTIVE_SHARE / (1 - ACTIVE_SHARE);
    const active = names.map(() => Math.random() < ACTIVE_SHARE);
    let running = 0;
    for (; minute < MINUTES_PER_DAY; minute++) {
      const started = performance.now();
      emulator.proxy.pass();
      names.forEach((_, i) => active[i] = active[i] ? Math.random() >= leave : Math.random() < join);
      // Requests are answered once the machine runs; the minute goes on meanwhile.
      for (const [i, name] of names.entries()) if (active[i]) void emulator.proxy.request(name);
      running += runningCount(emulator);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, tickMs - (performance.now() - started)))
      );
    }
    return running / (users * MINUTES_PER_DAY);
  } finally {
    await emulator.close();
  }
}

/** The `q` quantile of `values`, rounded. */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
}

/** Part 2: wake latencies (ms) of `idleAction` with realistic latency, over HTTP through the proxy. */
async function wakeLatencies(idleAction: "stop" | "suspend"): Promise<number[]> {
  const emulator = await startFlyEmulator({
    latency: "realistic",
    rateLimits: false,
    proxy: { passIntervalMs: 0 },
  });
  try {
    const names = await provision(emulator, wakes, idleAction);
    const latencies: number[] = [];
    const idleState = idleAction === "stop" ? "stopped" : "suspended";
    for (let round = 0; round < 3; round++) {
      emulator.proxy.setIdleWindow(0);
      emulator.proxy.pass();
      while (emulator.state().apps.some((app) => app.machines.some((m) => m.state !== idleState))) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // An idle spell is minutes long: the host has let go of the stopped machine (no 412 "still active").
      await new Promise((resolve) => setTimeout(resolve, emulator.latency.stillActiveMs));
      emulator.proxy.setIdleWindow(60 * 60_000);
      await mapBounded(names, 4, async (name) => {
        const begun = performance.now();
        const response = await fetch(`${emulator.proxyUrl(name)}/`);
        await response.body?.cancel();
        if (response.status === 200) latencies.push(performance.now() - begun);
      });
    }
    return latencies;
  } finally {
    await emulator.close();
  }
}

const db = await createMigratedDatabase();
let prices: { running: number; storage: number };
try {
  const [row] = await db.sql<{ running: number; storage: number }[]>`
    select private.machine_monthly_cost_usd(${PLAN.cpu_kind}, ${PLAN.cpus}, ${PLAN.memory_mb})::float8 as running,
           private.storage_monthly_cost_usd(0)::float8 as storage`;
  prices = row;
} finally {
  await db.drop();
}

const share = await simulateDay();
const costRatio = (share * prices.running + (1 - share) * prices.storage) / prices.running;
const stop = await wakeLatencies("stop");
const suspend = await wakeLatencies("suspend");
console.log(
  `simulated day: ${users} users, ${
    ACTIVE_SHARE * 100
  } % active at a time, sessions of ~${SESSION_MINUTES} min, ` +
    `idle window ${IDLE_WINDOW_MINUTES} min; ${PLAN.cpus}x${PLAN.cpu_kind} ${PLAN.memory_mb} MB: ` +
    `$${prices.running}/month running, $${prices.storage}/month stopped`,
);
console.log(
  `running ${(share * 100).toFixed(1)} % of the time: $${
    (share * prices.running + (1 - share) * prices.storage).toFixed(2)
  } vs $${prices.running.toFixed(2)} per user-month`,
);
console.log(
  `wake (realistic latency, ${stop.length} + ${suspend.length} requests): stop p50 ${
    quantile(stop, 0.5)
  } ms, ` +
    `p95 ${quantile(stop, 0.95)} ms; suspend p50 ${quantile(suspend, 0.5)} ms, p95 ${
      quantile(suspend, 0.95)
    } ms`,
);
console.log(
  `BENCH idle users=${users} running_share=${share.toFixed(3)} cost_ratio=${costRatio.toFixed(3)} ` +
    `wake_p50_ms=${quantile(stop, 0.5)} wake_p95_ms=${quantile(stop, 0.95)} ` +
    `suspend_wake_p50_ms=${quantile(suspend, 0.5)} suspend_wake_p95_ms=${quantile(suspend, 0.95)}`,
);
