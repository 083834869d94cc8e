/** Leases across connections: concurrent claimers never share a row; an expired lease can be taken over. */
import postgres from "postgres";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { connect } from "../_support/database.ts";
import { createMigratedDatabase, createUsers } from "../_support/migrated_database.ts";
import { applyTierChanges } from "../_support/tier_outbox.ts";

interface ClaimedRow {
  id: string;
  user_id: string;
  lease_owner: string;
}

Deno.test("claim_due: two concurrent claimers take disjoint rows, all due rows get claimed exactly once", async () => {
  const db = await createMigratedDatabase();
  const a = connect(db.url, 1);
  const b = connect(db.url, 1);
  try {
    const users = await createUsers(db, 40);
    await db
      .sql`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'pro'`;
    await applyTierChanges(db.sql);
    const claimAll = async (sql: postgres.Sql, owner: string) => {
      const mine: ClaimedRow[] = [];
      while (true) {
        const batch = await sql<{ row: ClaimedRow }[]>`
          select x as row from private.claim_due_user_fly_apps(${owner}, 3, 60) x`;
        if (batch.length === 0) return mine;
        mine.push(...batch.map((r) => r.row));
      }
    };
    // Both connections are open before the race starts, so neither claimer gets a head start.
    await Promise.all([a`select 1`, b`select 1`]);
    const [fromA, fromB] = await Promise.all([claimAll(a, "claimer-a"), claimAll(b, "claimer-b")]);
    const idsA = new Set(fromA.map((r) => r.id));
    const overlap = fromB.filter((r) => idsA.has(r.id));
    assertEquals(overlap, [], "no row claimed by both");
    assertEquals(fromA.length + fromB.length, 40, "every due row claimed once");
    assert(
      fromA.every((r) => r.lease_owner === "claimer-a") && fromB.every((r) => r.lease_owner === "claimer-b"),
    );
    const owners = await db
      .sql`select lease_owner, count(*)::int as n from public.user_fly_apps group by 1 order by 1`;
    const expected = [["claimer-a", fromA.length], ["claimer-b", fromB.length]].filter(([, n]) => n !== 0);
    assertEquals(owners.map((r) => [r.lease_owner, r.n]), expected);
  } finally {
    await a.end({ timeout: 2 });
    await b.end({ timeout: 2 });
    await db.drop();
  }
});

Deno.test("claim_due skips rows locked by an open claim instead of waiting for it", async () => {
  const db = await createMigratedDatabase();
  const a = connect(db.url, 1);
  const b = connect(db.url, 1);
  try {
    const users = await createUsers(db, 6);
    await db
      .sql`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'elite'`;
    await applyTierChanges(db.sql);
    let release!: () => void;
    const held = new Promise<void>((resolve) => release = resolve);
    let claimedByA: string[] = [];
    const inA = a.begin(async (tx) => {
      claimedByA = (await tx<{ id: string }[]>`
        select x ->> 'id' as id from private.claim_due_user_fly_apps('open-a', 3, 60) x`).map((r) => r.id);
      await held; // keep the rows locked, uncommitted
    });
    while (claimedByA.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const started = performance.now();
    const claimedByB = (await b<{ id: string }[]>`
      select x ->> 'id' as id from private.claim_due_user_fly_apps('open-b', 10, 60) x`).map((r) => r.id);
    const waitedMs = performance.now() - started;
    release();
    await inA;
    assertEquals(claimedByA.length, 3);
    assertEquals(claimedByB.length, 3, "B gets the three rows A has not locked");
    assertEquals(claimedByB.filter((id) => claimedByA.includes(id)), []);
    assert(waitedMs < 2000, `B did not wait for A's transaction (${waitedMs.toFixed(0)} ms)`);
  } finally {
    await a.end({ timeout: 2 });
    await b.end({ timeout: 2 });
    await db.drop();
  }
});

Deno.test("claim_user_fly_app: ten concurrent claimers of one user, exactly one gets the lease", async () => {
  const db = await createMigratedDatabase();
  const clients = Array.from({ length: 10 }, () => connect(db.url, 1));
  try {
    const [user] = await createUsers(db, 1);
    await db.sql`insert into public.user_subscriptions (user_id, tier) values (${user}, 'pro')`;
    await applyTierChanges(db.sql);
    const results = await Promise.all(clients.map(async (sql, i) => {
      const [{ claim }] = await sql<{ claim: { status: string; app: { lease_owner: string } } }[]>`
        select private.claim_user_fly_app(${user}::uuid, ${`claimer-${i}`}, 60) as claim`;
      return { owner: `claimer-${i}`, claim };
    }));
    const winners = results.filter((r) => r.claim.status === "claimed");
    assertEquals(winners.length, 1, "exactly one claimed");
    assertEquals(
      results.filter((r) => r.claim.status === "leased").length,
      9,
      "the others get a clean 'leased'",
    );
    const [row] = await db.sql`select lease_owner from public.user_fly_apps where user_id = ${user}`;
    assertEquals(row.lease_owner, winners[0].owner);
    assert(
      results.filter((r) => r.claim.status === "leased").every((r) =>
        r.claim.app.lease_owner === winners[0].owner
      ),
      "'leased' names the holder",
    );
  } finally {
    await Promise.all(clients.map((sql) => sql.end({ timeout: 2 })));
    await db.drop();
  }
});

Deno.test("claim_user_fly_app blocked behind an uncommitted claim answers 'leased' once that commits", async () => {
  const db = await createMigratedDatabase();
  const a = connect(db.url, 1);
  const b = connect(db.url, 1);
  try {
    const [user] = await createUsers(db, 1);
    await db.sql`insert into public.user_subscriptions (user_id, tier) values (${user}, 'pro')`;
    await applyTierChanges(db.sql);
    let release!: () => void;
    const held = new Promise<void>((resolve) => release = resolve);
    let aStatus = "";
    const inA = a.begin(async (tx) => {
      [{ s: aStatus }] =
        await tx`select private.claim_user_fly_app(${user}::uuid, 'a', 60) ->> 'status' as s`;
      await held;
    });
    while (!aStatus) await new Promise((resolve) => setTimeout(resolve, 10));
    const inB = b`select private.claim_user_fly_app(${user}::uuid, 'b', 60) ->> 'status' as s`;
    await new Promise((resolve) => setTimeout(resolve, 200)); // B now waits on A's row lock
    release();
    await inA;
    const [{ s: bStatus }] = await inB;
    assertEquals([aStatus, bStatus], ["claimed", "leased"]);
  } finally {
    await a.end({ timeout: 2 });
    await b.end({ timeout: 2 });
    await db.drop();
  }
});

Deno.test("an expired lease is taken over, and the old holder can no longer record an outcome", async () => {
  const db = await createMigratedDatabase();
  try {
    const [user] = await createUsers(db, 1);
    await db.sql`insert into public.user_subscriptions (user_id, tier) values (${user}, 'pro')`;
    await applyTierChanges(db.sql);
    const [{ claim }] = await db.sql`select private.claim_user_fly_app(${user}::uuid, 'old', 1) as claim`;
    assertEquals(claim.status, "claimed");
    const [{ s: early }] = await db
      .sql`select private.claim_user_fly_app(${user}::uuid, 'new', 60) ->> 'status' as s`;
    assertEquals(early, "leased", "not before it expires");
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const [{ s: late }] = await db
      .sql`select private.claim_user_fly_app(${user}::uuid, 'new', 60) ->> 'status' as s`;
    assertEquals(late, "claimed", "taken over after expiry");
    await assertRejects(
      () => db.sql`select private.record_outcome(${claim.app.id}::uuid, 'old', 1)`,
      Error,
      "lease_not_held",
    );
    const [row] = await db
      .sql`select lease_owner, observed_generation from public.user_fly_apps where user_id = ${user}`;
    assertEquals([row.lease_owner, row.observed_generation], ["new", "0"]);
    // An expired, never-released lease also makes the row due for the sweep again.
    await db
      .sql`update public.user_fly_apps set lease_expires_at = now() - interval '1 second' where user_id = ${user}`;
    const due = await db
      .sql`select x ->> 'user_id' as u from private.claim_due_user_fly_apps('sweeper', 10, 60) x`;
    assertEquals(due.map((r) => r.u), [user]);
  } finally {
    await db.drop();
  }
});
