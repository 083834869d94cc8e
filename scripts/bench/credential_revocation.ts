/**
 * Benchmark: what checking revoked user app credentials costs an RLS-protected read.
 *
 * Usage: `deno task bench credential_revocation` (sets LOCAL_DB_URL). Sizes: BENCH_REVOKED (10000 jtis on the
 * denylist), BENCH_ROWS (1000 rows of the user in the table read), BENCH_ROUNDS (200 reads per variant).
 *
 * In a scratch database (stand-ins + migrations), a table of one user's rows is read as `authenticated` with
 * a user app credential's claims, under two policies in turn: the usual per-user policy, and the same with
 * `and not (select public.user_credential_revoked())` (the documented pattern). Each round reads once with
 * each policy, in alternating order; the figures are the medians.
 *
 * Ends with `BENCH credential_revocation plain_ms=… checked_ms=… extra_ms=… revoked=… rows=…`.
 *
 * @module
 */
import { createMigratedDatabase } from "../../tests/_support/migrated_database.ts";
import { intSetting } from "./_support.ts";

const REVOKED = intSetting("revoked", "BENCH_REVOKED", 10_000);
const ROWS = intSetting("rows", "BENCH_ROWS", 1_000);
const ROUNDS = intSetting("rounds", "BENCH_ROUNDS", 200);

/** The median of `values`. */
const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];

const db = await createMigratedDatabase();
try {
  const user = crypto.randomUUID();
  await db.sql`insert into auth.users (id) values (${user})`;
  await db.sql`
    insert into private.revoked_user_credentials (jti, user_id, expires_at)
    select gen_random_uuid()::text, ${user}, now() + interval '90 days' from generate_series(1, ${REVOKED})`;
  await db.sql.unsafe(`
    create table public.bench_notes (id bigint generated always as identity primary key, user_id uuid not null,
                                     body text not null);
    alter table public.bench_notes enable row level security;
    grant select on public.bench_notes to authenticated;
    create policy plain on public.bench_notes for select to authenticated
      using ((select auth.uid()) = user_id and current_setting('bench.variant') = 'plain');
    create policy checked on public.bench_notes for select to authenticated
      using ((select auth.uid()) = user_id and current_setting('bench.variant') = 'checked'
             and not (select public.user_credential_revoked()));
    analyze private.revoked_user_credentials;`);
  await db.sql`insert into public.bench_notes (user_id, body) select ${user}, 'note ' || g
               from generate_series(1, ${ROWS}) g`;
  const claims = JSON.stringify({ sub: user, role: "authenticated", jti: crypto.randomUUID() });

  /** One read as the credential under `variant`; returns its time in ms. */
  const read = (variant: "plain" | "checked") =>
    db.sql.begin(async (tx) => {
      await tx`select set_config('request.jwt.claims', ${claims}, true), set_config('bench.variant', ${variant}, true)`;
      await tx`set local role authenticated`;
      const started = performance.now();
      const [{ count }] = await tx<
        { count: number }[]
      >`select count(*)::int as count from public.bench_notes`;
      const elapsed = performance.now() - started;
      if (count !== ROWS) throw new Error(`read ${count} rows under ${variant}, expected ${ROWS}`);
      return elapsed;
    });

  for (let i = 0; i < 20; i++) await read(i % 2 === 0 ? "plain" : "checked");
  const times = { plain: [] as number[], checked: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ["plain", "checked"] as const : ["checked", "plain"] as const;
    for (const variant of order) times[variant].push(await read(variant));
  }
  const plain = median(times.plain);
  const checked = median(times.checked);
  console.log(`credential_revocation: ${ROWS} rows read as a user app credential, ${REVOKED} jtis revoked`);
  console.log(`  per-user policy             ${plain.toFixed(3)} ms (median of ${ROUNDS})`);
  console.log(`  + not user_credential_revoked()  ${checked.toFixed(3)} ms`);
  console.log(
    `BENCH credential_revocation plain_ms=${plain.toFixed(3)} checked_ms=${checked.toFixed(3)} ` +
      `extra_ms=${(checked - plain).toFixed(3)} revoked=${REVOKED} rows=${ROWS}`,
  );
} finally {
  await db.drop();
}
