/**
 * Benchmark: a user's tier change between two paid tiers of different sizes applies the new plan at once.
 * 20 users (`--users=N`, env BENCH_TIER_USERS) on `pro` (shared, 2 CPUs, 512 MB) move to `elite` (set to
 * performance, 1 CPU, 2,048 MB) in one UPDATE, then back to `pro` in another, through the whole path: the
 * tier trigger and outbox, the one-second drainer, the pg_net worker's kick, the provision function's
 * reconcile (a full-config machine update) on the emulator's realistic latency profile. Each move is timed
 * from the UPDATE's commit to the moment the Machines API shows the user's machine at the new size, started,
 * with every check passing.
 *
 * Machines are observed in the emulator's own state (polling the Machines API would spend the per-app rate
 * limit the reconcile needs and make it back off).
 *
 * Usage: `deno task bench tier_change`. Ends with `BENCH tier_change p50_ms=… p95_ms=… resized=N/M` (M: the
 * moves, 2 per user).
 *
 * @module
 */
import { intSetting, startBenchStack } from "./_support.ts";
import { createUsers } from "../../tests/_support/migrated_database.ts";

const USERS = Math.max(1, intSetting("users", "BENCH_TIER_USERS", 20));
/** A move that has not resized within this long counts as not resized. */
const TIMEOUT_MS = Number(Deno.env.get("BENCH_TIER_TIMEOUT_S") ?? 120) * 1000;

/** The size each tier runs in this benchmark. */
const SIZES = {
  pro: { cpu_kind: "shared", cpus: 2, memory_mb: 512 },
  elite: { cpu_kind: "performance", cpus: 1, memory_mb: 2048 },
} as const;

/** The value below which `q` of the sorted `values` lie (nearest rank). */
function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const stack = await startBenchStack({ emulator: { latency: "realistic" }, netWorker: true });
try {
  const { db, emulator } = stack;
  await db.sql`update public.fly_plans set cpu_kind = 'performance', cpus = 1, memory_mb = 2048
               where tier = 'elite'`;
  const users = await createUsers(db, USERS);
  await db.sql`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'pro'`;

  /**
   * The app's machines as the Machines API shows them (with checks), read from the emulator's state: polling
   * the API itself would spend the app's rate limit that the reconcile needs.
   */
  const machinesOf = (app: string) =>
    (emulator.state().apps.find((a) => a.name === app)?.machines ?? []) as unknown as {
      state: string;
      config: { guest: { cpu_kind: string; cpus: number; memory_mb: number } };
      checks?: { status: string }[];
    }[];
  /** True when the user's one machine runs `size`, started, every check passing. */
  const runs = (app: string | null, size: typeof SIZES[keyof typeof SIZES]) => {
    if (!app) return false;
    const machines = machinesOf(app).filter((m) => !["destroyed", "destroying"].includes(m.state));
    const [m] = machines;
    return machines.length === 1 && m.state === "started" &&
      m.config.guest.cpu_kind === size.cpu_kind && m.config.guest.cpus === size.cpus &&
      m.config.guest.memory_mb === size.memory_mb && (m.checks ?? []).every((c) => c.status === "passing");
  };
  const appNames = async () =>
    new Map(
      (await db.sql<{ user_id: string; fly_app_name: string | null }[]>`
        select user_id, fly_app_name from public.user_fly_apps where user_id = any(${users}::uuid[])`)
        .map((r) => [r.user_id, r.fly_app_name]),
    );

  // Setup: every user provisioned on pro, healthy.
  const setupDeadline = Date.now() + Number(Deno.env.get("BENCH_TIER_SETUP_S") ?? 300) * 1000;
  for (;;) {
    const names = await appNames();
    const ready = users.map((u) => runs(names.get(u) ?? null, SIZES.pro));
    if (ready.every(Boolean)) break;
    if (Date.now() > setupDeadline) {
      const [sample] = users.map((u) => names.get(u)).filter((n) => n) as string[];
      const statuses = await db.sql`select status, count(*)::int from public.user_fly_apps group by 1`;
      throw new Error(
        `setup: the users were not provisioned within 300 s: rows ${JSON.stringify(statuses)}, a machine ${
          JSON.stringify(sample ? machinesOf(sample) : null)
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  const latencies: number[] = [];
  let moves = 0;
  for (const tier of ["elite", "pro"] as const) {
    const names = await appNames();
    await db.sql`update public.user_subscriptions set tier = ${tier} where user_id = any(${users}::uuid[])`;
    const committed = performance.now();
    moves += users.length;
    const waiting = new Set(users);
    while (waiting.size > 0 && performance.now() - committed < TIMEOUT_MS) {
      for (const user of [...waiting]) {
        if (runs(names.get(user) ?? null, SIZES[tier])) {
          latencies.push(performance.now() - committed);
          waiting.delete(user);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const user of waiting) {
      const app = names.get(user) ?? null;
      const events = await db.sql`select event_type, metadata, error_details from public.user_fly_app_events
                                  where user_id = ${user} order by seq desc limit 8`;
      const [row] = await db
        .sql`select status, desired_tier, applied_tier, desired_generation, observed_generation,
                                   next_attempt_at, error_message from public.user_fly_apps where user_id = ${user}`;
      console.log(
        `  not resized to ${tier}: ${user} ${app} row ${JSON.stringify(row)} events ${
          JSON.stringify(events)
        }`,
      );
    }
  }
  const sorted = latencies.toSorted((a, b) => a - b);
  const [p50, p95] = sorted.length ? [percentile(sorted, 0.5), percentile(sorted, 0.95)] : [NaN, NaN];
  console.log(
    `tier change: ${USERS} users pro (shared 2 CPU 512 MB) -> elite (performance 1 CPU 2048 MB) in one UPDATE, ` +
      `then back; from the commit to the machine at the new size, started, checks passing (realistic latency):`,
  );
  console.log(
    `  min ${sorted[0]?.toFixed(0)}, p50 ${p50.toFixed(0)}, p95 ${p95.toFixed(0)}, max ${
      sorted.at(-1)?.toFixed(0)
    } ms`,
  );
  console.log(
    `BENCH tier_change p50_ms=${p50.toFixed(0)} p95_ms=${
      p95.toFixed(0)
    } resized=${latencies.length}/${moves}`,
  );
} catch (error) {
  console.error(stack.output.slice(-30).join("\n"));
  throw error;
} finally {
  await stack.stop();
}
