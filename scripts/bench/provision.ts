/**
 * Benchmark: wall time of one synchronous provision (`POST /functions/v1/provision-user-fly-app?wait=true`)
 * against the sum of the emulator's latencies on its critical path, with the realistic latency profile.
 *
 * Usage: `deno task bench provision`, or `LOCAL_DB_URL=postgres://... deno run -A scripts/bench/provision.ts
 * [--users=N]` (env BENCH_PROVISION_USERS; default 3 users, provisioned one after the other).
 *
 * Setup: a scratch migrated database, the emulator in this process with REALISTIC_LATENCY (30 ms per API
 * call, 3 s boot, app visible 400 ms after create, secrets usable 300 ms after a write), the functions
 * gateway as its own process, the seed's three per-app secrets. Then the same on a fresh stack with the two
 * propagation windows set to 0: what is left above 1.0 there is the stack's own overhead, and the difference
 * in wall time between the two profiles is what the windows cost the engine (against their 700 ms). Users
 * get the `pro` tier (their changes are drained without a kick: no net worker or drainer runs), then each is
 * provisioned by one ops call while nothing else runs. The first call is also the function instance's first
 * reconcile (cold code paths, new database connections).
 *
 * Method. A reconcile is sequential: every Machines API call waits for the one before, so each call's added
 * latency is on the critical path. From what the emulator did for that one provision:
 *
 *   latency sum = requestMs x (answers to every call except Machines_wait, counted by operation and status)
 *               + boot: the machine's `created` to `started` (from its events); the reconcile waits it out
 *                 in Machines_wait, whose own request latency elapses inside it and is not counted again
 *               + app propagation window (appPropagationMs) when the provision created the app: GET answers
 *                 404 until then and the engine cannot go on
 *               + secrets propagation window (secretsPropagationMs) when it wrote secrets: a machine create
 *                 with that `min_secrets_version` answers 412 until then
 *   ratio       = wall time of the HTTP call / latency sum
 *
 * The polls answered inside a propagation window (GET app 404 after the create, machine create 412) are
 * counted both as requests and inside the window, so the sum may overstate the floor by their number x
 * requestMs; the ratio is, if anything, slightly low. Everything above 1.0 is ours: the gateway and function,
 * Postgres (claim, events, record), client overhead, and the engine's own retry pauses being coarser than the
 * windows they wait out.
 */
import { type LatencyProfile, REALISTIC_LATENCY } from "../local/fly-emulator/mod.ts";
import {
  type BenchStack,
  countsSince,
  createPaidUsers,
  intSetting,
  median,
  startBenchStack,
  table,
  totalAnswers,
} from "./_support.ts";

const USERS = Math.max(1, intSetting("users", "BENCH_PROVISION_USERS", 3));

/** What one provision took and what the emulator did for it. */
interface ProvisionRun {
  wallMs: number;
  counts: Record<string, Record<string, number>>;
  requests: number;
  requestsMs: number;
  bootMs: number;
  appWindowMs: number;
  secretsWindowMs: number;
  sumMs: number;
}

/** The machine's `created` and `started` event times (epoch ms) in the emulator. */
function bootInterval(
  stack: BenchStack,
  appName: string,
  machineId: string,
): { created: number; started: number } {
  const app = stack.emulator.state().apps.find((a) => a.name === appName);
  const machine = app?.machines.find((m) => m.id === machineId);
  const at = (status: string) => machine?.events.find((e) => e.status === status)?.timestamp;
  const created = at("created");
  const started = at("started");
  if (created === undefined || started === undefined) {
    throw new Error(`machine ${machineId} of ${appName} has no created/started events`);
  }
  return { created, started };
}

async function provisionOne(stack: BenchStack, userId: string): Promise<ProvisionRun> {
  const latency = stack.emulator.latency;
  const before = stack.emulator.requestCounts();
  const started = performance.now();
  const answer = await stack.callWait("provision-user-fly-app", { user_id: userId, reason: "bench" });
  const wallMs = performance.now() - started;
  const counts = countsSince(before, stack.emulator.requestCounts());
  if (answer.outcome !== "converged") {
    throw new Error(`provision did not converge: ${JSON.stringify(answer)}`);
  }

  const [row] = await stack.db.sql`select fly_app_name, machine_id from public.user_fly_apps
    where user_id = ${userId}`;
  const boot = bootInterval(stack, row.fly_app_name, row.machine_id);
  const { Machines_wait: _wait, ...calls } = counts;
  const requests = totalAnswers(calls);
  const requestsMs = requests * latency.requestMs;
  const bootMs = boot.started - boot.created;
  const appWindowMs = counts.Apps_create?.["201"] ? latency.appPropagationMs : 0;
  const secretsWindowMs = counts.Secrets_update?.["200"] ? latency.secretsPropagationMs : 0;
  return {
    wallMs,
    counts,
    requests,
    requestsMs,
    bootMs,
    appWindowMs,
    secretsWindowMs,
    sumMs: requestsMs + bootMs + appWindowMs + secretsWindowMs,
  };
}

function describeCounts(counts: Record<string, Record<string, number>>): string[] {
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([operation, byStatus]) =>
      `  ${operation.padEnd(26)} ${
        Object.entries(byStatus).map(([status, n]) => `${n} x ${status}`).join(", ")
      }`
    );
}

/** A latency profile to provision under. */
interface Variant {
  label: string;
  latency: LatencyProfile;
}

const VARIANTS: Variant[] = [
  { label: "realistic", latency: REALISTIC_LATENCY },
  {
    // The same without the two propagation windows: what is left above 1.0 is the stack's own overhead.
    label: "realistic, no windows",
    latency: {
      ...REALISTIC_LATENCY,
      name: "realistic-no-windows",
      appPropagationMs: 0,
      secretsPropagationMs: 0,
    },
  },
];

/** Provisions USERS users one after the other on a fresh stack with the variant's emulator latency. */
async function runVariant(variant: Variant): Promise<ProvisionRun[]> {
  const stack = await startBenchStack({ emulator: { latency: variant.latency } });
  try {
    const users = await createPaidUsers(stack.db, USERS);
    const runs: ProvisionRun[] = [];
    for (const user of users) runs.push(await provisionOne(stack, user));
    return runs;
  } catch (error) {
    console.error(stack.output.slice(-40).join("\n"));
    throw error;
  } finally {
    await stack.stop();
  }
}

/** Runs the benchmark against the cluster behind LOCAL_DB_URL; returns the lines it prints. */
export async function benchProvision(): Promise<string[]> {
  const fmt = (ms: number) => ms.toFixed(0);
  const rows: string[][] = [];
  const medians: string[] = [];
  const warmWall: number[] = [];
  const warmRatio: number[] = [];
  let lastCounts: Record<string, Record<string, number>> = {};
  for (const variant of VARIANTS) {
    const runs = await runVariant(variant);
    const p = variant.latency;
    runs.forEach((run, i) =>
      rows.push([
        variant.label,
        i === 0 ? "1 (first call)" : String(i + 1),
        fmt(run.wallMs),
        `${run.requests} x ${p.requestMs} = ${fmt(run.requestsMs)}`,
        fmt(run.bootMs),
        `${fmt(run.appWindowMs)} + ${fmt(run.secretsWindowMs)}`,
        fmt(run.sumMs),
        fmt(run.wallMs - run.sumMs),
        (run.wallMs / run.sumMs).toFixed(2),
      ])
    );
    const warm = runs.length > 1 ? runs.slice(1) : runs;
    medians.push(
      `  ${variant.label}: wall ${fmt(median(warm.map((r) => r.wallMs)))} ms, latency sum ` +
        `${fmt(median(warm.map((r) => r.sumMs)))} ms, ratio ${
          median(warm.map((r) => r.wallMs / r.sumMs)).toFixed(2)
        }`,
    );
    warmWall.push(median(warm.map((r) => r.wallMs)));
    warmRatio.push(median(warm.map((r) => r.wallMs / r.sumMs)));
    if (variant === VARIANTS[0]) lastCounts = runs[runs.length - 1].counts;
  }
  const p = REALISTIC_LATENCY;
  return [
    `provision bench: ${USERS} users per profile, provisioned one at a time through the gateway (?wait=true);`,
    `profile "realistic": request ${p.requestMs} ms, boot ${p.bootMs} ms, app propagation ` +
    `${p.appPropagationMs} ms, secrets propagation ${p.secretsPropagationMs} ms; all times in ms`,
    ...table(
      [
        "profile",
        "run",
        "wall",
        "requests n x ms",
        "boot",
        "windows app+secr",
        "latency sum",
        "overhead",
        "ratio",
      ],
      rows,
    ),
    `median after the first call:`,
    ...medians,
    `the propagation windows (${p.appPropagationMs} + ${p.secretsPropagationMs} ms) cost ` +
    `${fmt(warmWall[0] - warmWall[1])} ms of wall time (difference of the medians)`,
    `emulator answers for the last "realistic" run (Machines_wait's time is the boot, not counted as a request):`,
    ...describeCounts(lastCounts),
    `latency sum = requests x request latency + boot (created -> started, from the machine's events)`,
    `  + propagation windows waited out (app visible after create, secrets usable after write);`,
    `ratio = wall / latency sum. Polls answered inside a window count in both, so the ratio is if anything low.`,
    `Overhead = gateway, function, Postgres, Fly client, and the engine's retry pauses overshooting the windows`,
    `(compare the two profiles).`,
    `BENCH provision ratio=${warmRatio[0].toFixed(2)} no_windows_ratio=${warmRatio[1].toFixed(2)} ` +
    `windows_cost_ms=${fmt(warmWall[0] - warmWall[1])}`,
  ];
}

if (import.meta.main) {
  if (!Deno.env.get("LOCAL_DB_URL")) {
    console.error("LOCAL_DB_URL is not set: point it at the local cluster (deno task dev prints one)");
    Deno.exit(2);
  }
  const started = performance.now();
  for (const line of await benchProvision()) console.log(line);
  console.log(`(took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
