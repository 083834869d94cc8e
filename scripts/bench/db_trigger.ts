/**
 * Benchmark: what the tier-change triggers cost the application's writes to `user_subscriptions`.
 *
 * Usage: `deno task bench db_trigger` (sets LOCAL_DB_URL and LOCAL_ADMIN_DB_URL, the local cluster as
 * `postgres` and as the superuser). Sizes: BENCH_USERS (1000), BENCH_STATEMENTS (200 per single or other
 * phase).
 *
 * It runs in a scratch database of that cluster (stand-ins + migrations applied, dropped at the end). Each
 * phase runs with the shipped triggers (one outbox row per change for the first 64 changes of a
 * transaction, then one bulk marker), with no trigger, and with two alternatives, all in the same run:
 * BENCH_ROUNDS (60) rounds of short phases, every variant in turn in a rotating order, one connection, every
 * statement its own committed transaction, every phase from freshly vacuumed tables (autovacuum off for
 * the rounds) and after one untimed run of its statements (switching triggers makes them re-plan); a ratio
 * is the median over rounds of the ratio within a round (see {@link pairedRatio}). Short phases matter:
 * this 2-core machine's speed drifts by up to 40 % within a minute, so the variants compared in a round
 * must run within a fraction of a second of each other.
 *   - single: one user's tier flipped (pro <-> free), one statement at a time;
 *   - other: an UPDATE of another column, and one that sets the same tier (no change);
 *   - bulk: every user's tier flipped in one statement.
 * Alternatives (installed only in the scratch database): `per_row`, one outbox row for every change however
 * many (this project's trigger before the bulk marker); and `statement`, a statement-level UPDATE trigger
 * with transition tables (fires on every UPDATE: it cannot use `UPDATE OF`), comparing old and new rows
 * with `UNION ALL ... GROUP BY user_id`.
 * Then pgbench, 4 clients for BENCH_PGBENCH_S (10) seconds each, single-row flips of random users: without
 * trigger, and with the outbox trigger while the drainer runs every second (Vault points at a dead port and
 * no net worker watches the scratch database, so its kicks are queued, never sent).
 *
 * Ends with `BENCH db_trigger single_ratio=… other_ratio=… bulk_ratio=… pgbench_ratio=…` (the shipped
 * trigger) and the alternatives' ratios.
 *
 * @module
 */
import { createMigratedDatabase } from "../../tests/_support/migrated_database.ts";
import { ensurePostgresTools } from "../local/prerequisites.ts";
import { startTierDrainer } from "../local/drainer.ts";
import { intSetting } from "./_support.ts";

const USERS = intSetting("users", "BENCH_USERS", 1000);
const STATEMENTS = intSetting("statements", "BENCH_STATEMENTS", 200);
const PGBENCH_SECONDS = intSetting("pgbench-seconds", "BENCH_PGBENCH_S", 10);
const ROUNDS = intSetting("rounds", "BENCH_ROUNDS", 60);

/** The trigger set a phase runs with. */
type Variant = "outbox" | "none" | "per_row" | "statement";
const VARIANTS: Variant[] = ["outbox", "none", "per_row", "statement"];

/** Alternatives measured against the shipped trigger (scratch database only). */
const ALTERNATIVES_SQL = `
create function private.bench_per_row_outbox() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into private.tier_outbox (user_id) values (coalesce(new.user_id, old.user_id));
  return null;
end $$;
create trigger bench_per_row after update of tier on public.user_subscriptions
  for each row when (old.tier is distinct from new.tier) execute function private.bench_per_row_outbox();
create function private.bench_statement_outbox() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into private.tier_outbox (user_id)
  select x.user_id from (select user_id, tier from old_rows union all select user_id, tier from new_rows) x
  group by x.user_id having count(distinct x.tier) > 1;
  return null;
end $$;
create trigger bench_statement after update on public.user_subscriptions
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.bench_statement_outbox();
`;

const TRIGGERS: Record<Variant, string[]> = {
  outbox: ["on_user_tier_change", "on_user_subscription_change"],
  none: [],
  per_row: ["bench_per_row"],
  statement: ["bench_statement"],
};
const ALL_TRIGGERS = [...new Set(Object.values(TRIGGERS).flat())];

/** Result of one timed phase. */
interface Phase {
  rows: number;
  ms: number;
}

const rate = (phase: Phase) => phase.rows / (phase.ms / 1000);
/** The median of `values`. */
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];

/**
 * A variant's ratio to no trigger: the median, over the rounds, of its rate divided by the no-trigger rate
 * of the same round. Pairing within a round cancels the load other sessions put on a shared machine at that
 * moment (unpaired medians, or best rounds, moved by up to 0.25 between two runs); the median drops the
 * rounds a burst hit.
 */
const pairedRatio = (variant: Phase[], none: Phase[]) =>
  median(variant.map((p, i) => rate(p) / rate(none[i])));

/** Runs `pgbench` with `script` against `url`; returns its transactions per second. */
async function pgbench(url: string, script: string, seconds: number): Promise<number> {
  const tools = await ensurePostgresTools(() => {});
  const file = await Deno.makeTempFile({ suffix: ".sql" });
  try {
    await Deno.writeTextFile(file, script);
    const { stdout, stderr, success } = await new Deno.Command(`${tools.binDir}/pgbench`, {
      args: ["-n", "-c", "4", "-j", "2", "-T", String(seconds), "-f", file, url],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout);
    if (!success) throw new Error(`pgbench failed: ${new TextDecoder().decode(stderr)}`);
    const match = text.match(/tps = ([\d.]+)/);
    if (!match) throw new Error(`no tps in pgbench output: ${text}`);
    return Number(match[1]);
  } finally {
    await Deno.remove(file);
  }
}

/** Runs the benchmark in a scratch database of the cluster behind `url`; returns the lines it prints. */
export async function benchTrigger(): Promise<string[]> {
  const db = await createMigratedDatabase();
  const scratchUrl = new URL(db.url);
  const sql = db.sql;
  try {
    await sql.unsafe(ALTERNATIVES_SQL);
    await sql`select vault.create_secret('http://127.0.0.1:9', 'project_url')`;
    await sql`select vault.create_secret('bench-secret', 'fly_kick_secret')`;
    const users = Array.from({ length: USERS }, () => crypto.randomUUID());
    await sql`create table public.bench_users (n integer primary key, user_id uuid not null)`;
    await sql`insert into public.bench_users select i, u from unnest(${users}::uuid[]) with ordinality as t(u, i)`;
    await sql`insert into auth.users (id) select unnest(${users}::uuid[])`;
    await sql`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'free'`;
    await sql`select private.drain_tier_outbox(1000, false)`;
    const autovacuum = async (on: boolean) => {
      for (const table of ["public.user_subscriptions", "private.tier_outbox"]) {
        await sql.unsafe(`alter table ${table} set (autovacuum_enabled = ${on})`);
      }
    };
    await autovacuum(false);

    const tiers = new Map(users.map((u) => [u, "free"]));
    let cursor = 0;
    const nextUser = () => users[cursor++ % users.length];
    const timed = async (rows: number, work: () => Promise<unknown>): Promise<Phase> => {
      const started = performance.now();
      await work();
      return { rows, ms: performance.now() - started };
    };
    /** One tier flip of the next user. */
    const flip = async () => {
      const user = nextUser();
      const tier = tiers.get(user) === "free" ? "pro" : "free";
      tiers.set(user, tier);
      await sql`update public.user_subscriptions set tier = ${tier} where user_id = ${user}`;
    };
    /** An UPDATE that changes no tier: another column (even `i`) or the same tier (odd `i`). */
    const touch = async (i: number) => {
      const user = nextUser();
      if (i % 2 === 0) {
        await sql`update public.user_subscriptions set updated_at = now() where user_id = ${user}`;
      } else {await sql`update public.user_subscriptions set tier = ${tiers.get(
          user,
        )!} where user_id = ${user}`;}
    };
    // Each phase first runs its statements once untimed: the trigger switch before it makes them re-plan.
    const single = async () => {
      await flip();
      return timed(STATEMENTS, async () => {
        for (let i = 0; i < STATEMENTS; i++) await flip();
      });
    };
    const other = async () => {
      await touch(0);
      await touch(1);
      return timed(STATEMENTS, async () => {
        for (let i = 0; i < STATEMENTS; i++) await touch(i);
      });
    };
    const bulk = () =>
      timed(USERS, async () => {
        await sql`update public.user_subscriptions set tier = case when tier = 'free' then 'pro' else 'free' end`;
        for (const [u, t] of tiers) tiers.set(u, t === "free" ? "pro" : "free");
      });
    const use = async (variant: Variant) => {
      for (const trigger of ALL_TRIGGERS) {
        const on = TRIGGERS[variant].includes(trigger);
        await sql.unsafe(
          `alter table public.user_subscriptions ${on ? "enable" : "disable"} trigger ${trigger}`,
        );
      }
      // Empty the outbox between phases (the drainer keeps it small in production), and start every phase
      // from vacuumed tables: autovacuum is off for them, so it cannot land on one variant's phase.
      await sql`delete from private.tier_outbox`;
      await sql`vacuum public.user_subscriptions, private.tier_outbox`;
    };

    const results: Record<Variant, { single: Phase[]; other: Phase[]; bulk: Phase[] }> = {
      outbox: { single: [], other: [], bulk: [] },
      none: { single: [], other: [], bulk: [] },
      per_row: { single: [], other: [], bulk: [] },
      statement: { single: [], other: [], bulk: [] },
    };
    await use("outbox");
    await single(); // warm-up: caches and plans
    // Short phases, every variant in turn, in a rotating order: a machine whose load drifts during the run
    // (other sessions) weighs on every variant alike.
    const phases = { single, other, bulk };
    for (let round = 0; round < ROUNDS; round++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
      for (const phase of ["single", "other", "bulk"] as const) {
        for (const variant of order) {
          await use(variant);
          results[variant][phase].push(await phases[phase]());
        }
      }
    }

    // pgbench: 4 clients flipping random users' tiers; with the outbox trigger the drainer runs every second.
    // Autovacuum runs as it would in production.
    await autovacuum(true);
    const script = `\\set n random(1, ${USERS})
update public.user_subscriptions set tier = case when tier = 'free' then 'pro' else 'free' end
  where user_id = (select user_id from public.bench_users where n = :n);
`;
    await use("none");
    const tpsNone = await pgbench(scratchUrl.href, script, PGBENCH_SECONDS);
    await use("outbox");
    const reports: { drained: number; ms: number }[] = [];
    let runStarted = performance.now();
    const drainer = startTierDrainer(scratchUrl.href, {
      onReport: (report) => {
        reports.push({ drained: report.drained, ms: performance.now() - runStarted });
        runStarted = performance.now();
      },
    });
    let tpsOutbox: number;
    try {
      tpsOutbox = await pgbench(scratchUrl.href, script, PGBENCH_SECONDS);
    } finally {
      await drainer.stop();
    }
    const [left] = await sql`select count(*)::int as n from private.tier_outbox`;
    const drainedRows = reports.reduce((sum, r) => sum + r.drained, 0);

    const ratio = (variant: Variant, phase: "single" | "other" | "bulk") =>
      pairedRatio(results[variant][phase], results.none[phase]);
    const line = (variant: Variant) =>
      `  ${variant.padEnd(10)} ${
        (["single", "other", "bulk"] as const).map((phase) => {
          const perSecond = median(results[variant][phase].map(rate)).toFixed(0).padStart(6);
          return `${phase} ${perSecond}/s (${ratio(variant, phase).toFixed(2)})`;
        }).join("   ")
      }`;
    const f = (n: number) => n.toFixed(2);
    return [
      `db trigger bench: ${USERS} users, ${STATEMENTS} statements per single/other phase, ${ROUNDS} rounds of`,
      `every variant in a rotating order; median rows per second (ratio to no trigger: the median over rounds`,
      `of the ratio within a round); single = one tier flip per statement, other = UPDATE of another column or`,
      `the same tier, bulk = every user's tier flipped in one statement:`,
      ...VARIANTS.map(line),
      `  (outbox = shipped: one outbox row per change up to 64 per transaction, then one bulk marker;`,
      `   per_row = one outbox row for every change; statement = statement-level trigger with transition`,
      `   tables, UNION ALL ... GROUP BY)`,
      `pgbench, 4 clients, ${PGBENCH_SECONDS} s each, single-row tier flips of random users:`,
      `  no trigger: ${tpsNone.toFixed(0)} tps; outbox trigger + drainer every second: ${
        tpsOutbox.toFixed(0)
      } tps ` +
      `(ratio ${f(tpsOutbox / tpsNone)})`,
      `  drainer: ${reports.length} runs, ${drainedRows} outbox rows drained, ` +
      `mean ${
        (drainedRows / Math.max(1, reports.length)).toFixed(0)
      } rows per run, ${left.n} left at the end`,
      `BENCH db_trigger single_ratio=${f(ratio("outbox", "single"))} other_ratio=${
        f(ratio("outbox", "other"))
      } ` +
      `bulk_ratio=${f(ratio("outbox", "bulk"))} pgbench_ratio=${f(tpsOutbox / tpsNone)} ` +
      `per_row_bulk_ratio=${f(ratio("per_row", "bulk"))} statement_bulk_ratio=${
        f(ratio("statement", "bulk"))
      } ` +
      `statement_other_ratio=${f(ratio("statement", "other"))}`,
    ];
  } finally {
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
