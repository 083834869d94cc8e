/**
 * The credential as PostgREST applies it: `set role authenticated` with its verified claims in
 * `request.jwt.claims`. Under the README's policy pattern it reads only its own user's rows.
 */
import { jwtVerify } from "jose";
import {
  importSigningKey,
  parseSigningKey,
} from "../../supabase/functions/_shared/credentials/signing_key.ts";
import { mintUserJwt } from "../../supabase/functions/_shared/credentials/user_jwt.ts";
import { assertEquals } from "../_support/assert.ts";
import { createScratchDatabase } from "../_support/database.ts";
import { LEGACY_SECRET } from "./_keys.ts";

Deno.test("user jwt + RLS: the credential reads only its user's rows, and cannot write another's", async () => {
  const db = await createScratchDatabase({ standIns: true });
  try {
    const [alice, bob] = [crypto.randomUUID(), crypto.randomUUID()];
    await db.sql.unsafe(`
      create table public.notes (
        id bigint generated always as identity primary key,
        user_id uuid not null,
        body text not null
      );
      alter table public.notes enable row level security;
      create policy notes_own_rows on public.notes for all to authenticated
        using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
      grant select, insert on public.notes to authenticated;
    `);
    await db.sql`insert into public.notes (user_id, body)
      values (${alice}, 'alice 1'), (${alice}, 'alice 2'), (${bob}, 'bob 1')`;

    const key = await importSigningKey(parseSigningKey(LEGACY_SECRET));
    const { token } = await mintUserJwt({
      key,
      supabaseUrl: "http://127.0.0.1:54321",
      userId: alice,
      ttlSeconds: 3600,
    });
    // What PostgREST does with a bearer token: verify it, then run as its role with its claims.
    const { payload } = await jwtVerify(token, new TextEncoder().encode(LEGACY_SECRET));
    const asCredential = <T>(fn: (sql: typeof db.sql) => Promise<T>) =>
      db.sql.begin(async (sql) => {
        await sql`select set_config('request.jwt.claims', ${JSON.stringify(payload)}, true)`;
        await sql.unsafe(`set local role ${payload.role}`);
        return await fn(sql as unknown as typeof db.sql);
      });

    const visible = await asCredential((sql) =>
      sql<{ body: string }[]>`select body from public.notes order by id`
    );
    assertEquals(visible.map((row) => row.body), ["alice 1", "alice 2"]);
    const denied = await asCredential((sql) =>
      sql`insert into public.notes (user_id, body) values (${bob}, 'x')`
    )
      .then(() => "inserted", (error: Error) => error.message);
    assertEquals(denied, 'new row violates row-level security policy for table "notes"');
    const [{ count }] = await db.sql<{ count: number }[]>`select count(*)::int as count from public.notes`;
    assertEquals(count, 3, "the forged row was not written");
  } finally {
    await db.drop();
  }
});
