/**
 * Benchmark: throughput of tier UPDATEs on `user_subscriptions` with the `on_user_tier_change` trigger
 * (upsert of the user's row + Vault read + pg_net enqueue + event) against the same UPDATEs with the trigger
 * disabled. Prints both and the ratio.
 *
 * Usage: `deno task bench db_trigger` (sets LOCAL_DB_URL and LOCAL_ADMIN_DB_URL, the local cluster as
 * `postgres` and as the superuser).
 *
 * It runs in a scratch database of that cluster (stand-ins + migrations applied, dropped at the end), so
 * nothing of the shared database is touched: Vault points at a dead local port there and no net worker
 * watches that database, so the queued kicks are never sent. Every UPDATE is its own committed transaction,
 * one client round trip each, as an application's writes would be.
 */
import postgres from "postgres";
import { createMigratedDatabase } from "../../tests/_support/migrated_database.ts";

const USERS = Number(Deno.env.get("BENCH_USERS") ?? 1000);
const STATEMENTS = Number(Deno.env.get("BENCH_STATEMENTS") ?? 3000);
const ROUNDS = 3;

/** Result of one timed phase. */
interface Phase {
  rows: number;
  ms: number;
}

function rate(phase: Phase): number {
  return phase.rows / (phase.ms / 1000);
}

function best(phases: Phase[]): Phase {
  return phases.reduce((a, b) => (rate(b) > rate(a) ? b : a));
}

/** Runs the benchmark in a migrated scratch database of the local cluster; returns the lines it prints. */
export async function benchTrigger(): Promise<string[]> {
  const db = await createMigratedDatabase();
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    await sql`select vault.create_secret('http://127.0.0.1:9', 'project_url')`;
    await sql`select vault.create_secret('bench-secret', 'fly_provisioner_secret')`;
    const users = Array.from({ length: USERS }, () => crypto.randomUUID());
    await sql`insert into auth.users (id) select unnest(${users}::uuid[])`;
    await sql`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'free'`;

    // Each statement flips one user's tier, so every UPDATE really changes it (pro <-> free: provision and
    // deprovision kicks alternate, as do insert-or-reactivate and mark-absent).
    const tiers = new Map(users.map((u) => [u, "free"]));
    let cursor = 0;
    const singleRow = async (count: number): Promise<Phase> => {
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        const user = users[cursor++ % users.length];
        const tier = tiers.get(user) === "free" ? "pro" : "free";
        tiers.set(user, tier);
        await sql`update public.user_subscriptions set tier = ${tier} where user_id = ${user}`;
      }
      return { rows: count, ms: performance.now() - started };
    };
    // Flips every user's tier in one statement (every row changes).
    const bulk = async (): Promise<Phase> => {
      const started = performance.now();
      const result = await sql`update public.user_subscriptions
        set tier = case when tier = 'free' then 'pro' else 'free' end`;
      for (const [u, t] of tiers) tiers.set(u, t === "free" ? "pro" : "free");
      return { rows: result.count, ms: performance.now() - started };
    };
    const setTrigger = async (on: boolean) => {
      await sql.unsafe(
        `alter table public.user_subscriptions ${on ? "enable" : "disable"} trigger on_user_tier_change`,
      );
    };

    await singleRow(Math.min(USERS, STATEMENTS)); // warm-up: creates the users' rows, warms caches and plans
    const withTrigger: Phase[] = [];
    const withoutTrigger: Phase[] = [];
    const bulkWith: Phase[] = [];
    const bulkWithout: Phase[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await setTrigger(true);
      withTrigger.push(await singleRow(STATEMENTS));
      bulkWith.push(await bulk());
      await setTrigger(false);
      withoutTrigger.push(await singleRow(STATEMENTS));
      bulkWithout.push(await bulk());
    }
    const [queued] = await sql`select count(*)::int as n from net.http_request_queue`;
    const [kickFailures] = await sql`select count(*)::int as n from public.user_fly_app_events
      where event_type = 'kick_failed'`;

    const on = best(withTrigger);
    const off = best(withoutTrigger);
    const bOn = best(bulkWith);
    const bOff = best(bulkWithout);
    const perRowMs = (p: Phase) => p.ms / p.rows;
    return [
      `db trigger bench: ${USERS} users, best of ${ROUNDS} rounds, one connection, scratch database`,
      `single-row tier UPDATEs (${STATEMENTS} statements, each its own committed transaction):`,
      `  trigger enabled : ${rate(on).toFixed(0)} updates/s (${perRowMs(on).toFixed(3)} ms each)`,
      `  trigger disabled: ${rate(off).toFixed(0)} updates/s (${perRowMs(off).toFixed(3)} ms each)`,
      `  ratio enabled/disabled: ${(rate(on) / rate(off)).toFixed(2)} ` +
      `(the trigger adds ${(perRowMs(on) - perRowMs(off)).toFixed(3)} ms per update)`,
      `bulk tier UPDATE of ${USERS} rows in one statement:`,
      `  trigger enabled : ${rate(bOn).toFixed(0)} rows/s (${bOn.ms.toFixed(0)} ms)`,
      `  trigger disabled: ${rate(bOff).toFixed(0)} rows/s (${bOff.ms.toFixed(0)} ms)`,
      `  ratio enabled/disabled: ${(rate(bOn) / rate(bOff)).toFixed(2)}`,
      `kicks queued (never sent): ${queued.n}; kick failures: ${kickFailures.n}`,
    ];
  } finally {
    await sql.end({ timeout: 2 });
    await db.drop();
  }
}

if (import.meta.main) {
  if (!Deno.env.get("LOCAL_DB_URL") || !Deno.env.get("LOCAL_ADMIN_DB_URL")) {
    console.error(
      "LOCAL_DB_URL and LOCAL_ADMIN_DB_URL are not set: run it through `deno task bench db_trigger`",
    );
    Deno.exit(2);
  }
  const started = performance.now();
  for (const line of await benchTrigger()) console.log(line);
  console.log(`(took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
