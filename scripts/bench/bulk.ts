/**
 * Benchmark: one UPDATE upgrading N users at once on the local stack, then one UPDATE downgrading them all,
 * against the floor Fly's org-wide limits set.
 *
 * Usage: `deno task bench bulk`, or `LOCAL_DB_URL=postgres://... deno run -A scripts/bench/bulk.ts
 * [--users=N] [--sweep-every-s=S] [--timeout-s=T]` (env BENCH_BULK_USERS, default 1000;
 * BENCH_BULK_SWEEP_EVERY_S, default 60; BENCH_BULK_TIMEOUT_S per phase, default 3600).
 *
 * Setup: a scratch migrated database; the emulator in this process with fast latency and its rate limits
 * on (app create 1/s with bursts of 3 per org, app deletions 100/min); the functions gateway with its
 * default 4 worker processes per function and the hosted 150 s wall clock (GATEWAY_WORKERS /
 * GATEWAY_WALL_CLOCK_S change them); the pg_net worker sends the trigger's kicks; every `sweep-every-s`
 * seconds the bench runs the cron job's command (`select private.invoke_health_check()`), since pg_cron does
 * not run in a scratch database. N users start on `free`.
 *
 * Phases. Up: one `UPDATE user_subscriptions SET tier = 'pro'` for all N; the clock runs from its commit
 * until every row is `active` with its desired generation observed. Down: one UPDATE back to `free`, until
 * every row is `deleted` and observed. The kicks are whatever the tier trigger sends (on this branch one per
 * user; the batch kick of the outbox lands separately), and the sweep re-drives what they leave.
 *
 *   floor  = (N - burst) / rate of the limit that binds: app creates going up, app deletions going down
 *            (the documented limits the emulator enforces, from `_shared/fly/rate_limits.ts`)
 *   ratio  = wall time / floor
 *   http_429 = 429 answers the emulator gave during the phase (any operation)
 */
import { rateKeyFor, type RateRule } from "../../supabase/functions/_shared/fly/mod.ts";
import { createUsers } from "../../tests/_support/migrated_database.ts";
import { type BenchStack, countsSince, intSetting, startBenchStack, totalAnswers } from "./_support.ts";

const USERS = Math.max(1, intSetting("users", "BENCH_BULK_USERS", 1000));
const SWEEP_EVERY_S = Math.max(1, intSetting("sweep-every-s", "BENCH_BULK_SWEEP_EVERY_S", 60));
const TIMEOUT_S = Math.max(1, intSetting("timeout-s", "BENCH_BULK_TIMEOUT_S", 3600));
const PROGRESS_EVERY_MS = 30_000;

/** What one phase took. */
interface PhaseResult {
  wallS: number;
  floorS: number;
  converged: number;
  http429: number;
  /** 429 answers by operation (empty when there were none). */
  http429ByOperation: Record<string, number>;
  requests: number;
}

/** Seconds the limit `rule` needs at the least for `count` requests, starting with a full bucket. */
function floorSeconds(count: number, rule: RateRule): number {
  return Math.max(0, count - rule.burst) / rule.ratePerSecond;
}

/** Rows of `users` that reached `status` with their desired generation observed. */
async function convergedCount(stack: BenchStack, users: string[], status: string): Promise<number> {
  const [{ n }] = await stack.db.sql<{ n: number }[]>`
    select count(*)::int as n from public.user_fly_apps
    where user_id = any(${users}::uuid[]) and status = ${status}
      and observed_generation >= desired_generation`;
  return n;
}

/** Runs `update` (one statement), then waits until every user's row is converged to `status`. */
async function phase(
  stack: BenchStack,
  options: { label: string; users: string[]; tier: string; status: string; rule: RateRule },
): Promise<PhaseResult> {
  const { users } = options;
  const before = stack.emulator.requestCounts();
  const started = performance.now();
  await stack.db
    .sql`update public.user_subscriptions set tier = ${options.tier} where user_id = any(${users}::uuid[])`;
  let nextSweep = started + SWEEP_EVERY_S * 1000;
  let nextProgress = started + PROGRESS_EVERY_MS;
  let converged = 0;
  while (performance.now() - started < TIMEOUT_S * 1000) {
    converged = await convergedCount(stack, users, options.status);
    if (converged === users.length) break;
    const now = performance.now();
    if (now >= nextSweep) {
      await stack.db.sql`select private.invoke_health_check()`;
      nextSweep += SWEEP_EVERY_S * 1000;
    }
    if (now >= nextProgress) {
      const counts = countsSince(before, stack.emulator.requestCounts());
      console.log(
        `  ${options.label} t=${
          ((now - started) / 1000).toFixed(0)
        }s converged=${converged}/${users.length} ` +
          `http_429=${totalAnswers(counts, (s) => s === "429")}`,
      );
      nextProgress += PROGRESS_EVERY_MS;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const wallS = (performance.now() - started) / 1000;
  const counts = countsSince(before, stack.emulator.requestCounts());
  return {
    wallS,
    floorS: floorSeconds(users.length, options.rule),
    converged,
    http429: totalAnswers(counts, (s) => s === "429"),
    http429ByOperation: Object.fromEntries(
      Object.entries(counts).filter(([, byStatus]) => byStatus["429"]).map((
        [op, byStatus],
      ) => [op, byStatus["429"]]),
    ),
    requests: totalAnswers(counts),
  };
}

/** Wall time over floor, or n/a when the whole phase fits in the limit's burst. */
function ratio(result: PhaseResult): string {
  return result.floorS > 0 ? (result.wallS / result.floorS).toFixed(3) : "n/a";
}

function describe(label: string, result: PhaseResult, users: number): string {
  return `${label}: ${result.converged}/${users} converged in ${result.wallS.toFixed(1)} s, floor ` +
    `${result.floorS.toFixed(1)} s, ratio ${ratio(result)}, ` +
    `${result.requests} API answers, ${result.http429} of them 429` +
    (result.http429 > 0 ? ` (${JSON.stringify(result.http429ByOperation)})` : "");
}

/** Runs the benchmark against the cluster behind LOCAL_DB_URL; returns the lines it prints. */
export async function benchBulk(): Promise<string[]> {
  const stack = await startBenchStack({
    emulator: { latency: "fast" },
    netWorker: true,
  });
  try {
    const users = await createUsers(stack.db, USERS);
    await stack.db
      .sql`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'free'`;
    console.log(
      `${USERS} users; gateway: ${stack.services.gateway.workers} workers per function, wall clock ` +
        `${stack.services.gateway.wallClockMs / 1000} s; sweep every ${SWEEP_EVERY_S} s`,
    );
    const up = await phase(stack, {
      label: "up",
      users,
      tier: "pro",
      status: "active",
      rule: rateKeyFor("Apps_create", "personal").rule,
    });
    console.log(describe("up", up, USERS));
    const down = await phase(stack, {
      label: "down",
      users,
      tier: "free",
      status: "deleted",
      rule: rateKeyFor("Apps_delete", "any").rule,
    });
    console.log(describe("down", down, USERS));
    const fixed = (value: number, digits: number) => value.toFixed(digits);
    return [
      `BENCH bulk users=${USERS} wall_s=${fixed(up.wallS, 1)} floor_s=${fixed(up.floorS, 1)} ` +
      `ratio=${ratio(up)} http_429=${up.http429} converged=${up.converged} ` +
      `down_wall_s=${fixed(down.wallS, 1)} down_floor_s=${fixed(down.floorS, 1)} ` +
      `down_ratio=${ratio(down)} down_http_429=${down.http429} ` +
      `down_converged=${down.converged}`,
    ];
  } catch (error) {
    console.error(stack.output.slice(-30).join("\n"));
    throw error;
  } finally {
    await stack.stop();
  }
}

if (import.meta.main) {
  for (const line of await benchBulk()) console.log(line);
}
