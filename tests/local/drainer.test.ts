/**
 * The local tier-outbox drainer loop: runs at once and then every interval, goes on at once while a run
 * reports `more` (a full batch of 1,000 users, a bulk marker not worked off), reports each run, and stops
 * cleanly.
 */
import { startTierDrainer } from "../../scripts/local/drainer.ts";
import { upsertVaultSecret } from "../../scripts/local/vault.ts";
import { assert, assertEquals } from "../_support/assert.ts";
import { createMigratedDatabase, createUsers } from "../_support/migrated_database.ts";
import { waitFor } from "../_support/wait.ts";

Deno.test("the drainer loop takes a backlog of full batches without waiting out its interval, then stops", async () => {
  const db = await createMigratedDatabase();
  try {
    await upsertVaultSecret(db.sql, "project_url", "http://127.0.0.1:9");
    await upsertVaultSecret(db.sql, "fly_kick_secret", "s");
    const users = await createUsers(db, 1_200);
    await db
      .sql`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'pro'`;

    const reports: { users: number; kicked: boolean; more: boolean }[] = [];
    const drainer = startTierDrainer(db.url, {
      intervalMs: 60_000,
      onReport: (report) => reports.push(report),
    });
    try {
      // With a one-minute interval, only the immediate follow-up of a full batch can drain the rest in time.
      await waitFor("the backlog to drain", () => reports.length >= 2, 20_000);
      // One INSERT of 1,200: 64 outbox rows and a bulk marker; the diff fills the first batch to 1,000.
      assertEquals(reports.map((r) => [r.users, r.kicked, r.more]), [[1_000, true, true], [
        200,
        true,
        false,
      ]]);
      const [queued] = await db
        .sql`select count(*)::int as n, (select count(*)::int from net.http_request_queue) as kicks
        from private.tier_outbox`;
      assertEquals({ ...queued }, { n: 0, kicks: 2 }, "two batched kicks for 1,200 users");
      const report = await drainer.drainNow();
      assertEquals([report.drained, report.kicked], [0, false], "an empty drain on demand");
    } finally {
      await drainer.stop();
    }
    const runs = reports.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert(reports.length === runs, "no run after stop");
  } finally {
    await db.drop();
  }
});
