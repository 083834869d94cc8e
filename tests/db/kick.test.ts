/**
 * The tier outbox end to end through the drainer loop, the pg_net stand-in and its worker: a committed change
 * reaches the provision function as one batched kick with the URL and secret from Vault; a rolled-back one
 * sends nothing; two concurrent drainers never leave an older tier applied; without Vault the changes wait.
 */
import postgres from "postgres";
import { upsertVaultSecret } from "../../scripts/local/vault.ts";
import { startTierDrainer } from "../../scripts/local/drainer.ts";
import { startNetWorker } from "../../scripts/local/net_worker.ts";
import { assert, assertEquals } from "../_support/assert.ts";
import { connect } from "../_support/database.ts";
import { startHttpRecorder } from "../_support/http_recorder.ts";
import { waitFor } from "../_support/wait.ts";
import { createMigratedDatabase, createUsers } from "../_support/migrated_database.ts";

Deno.test("committed tier changes reach the provision function in one batched kick; a rolled-back one sends nothing", async () => {
  const db = await createMigratedDatabase();
  const target = startHttpRecorder(() => Response.json({ accepted: true }, { status: 202 }));
  const worker = await startNetWorker(db.url, { pollMs: 100 });
  const secret = `kick-secret-${crypto.randomUUID()}`;
  try {
    await upsertVaultSecret(db.sql, "project_url", `${target.url}/`);
    await upsertVaultSecret(db.sql, "fly_kick_secret", secret);
    const [first, second, rolledBack] = await createUsers(db, 3);

    await db
      .sql`insert into public.user_subscriptions (user_id, tier) values (${first}, 'free'), (${second}, 'free')`;
    await db.sql`update public.user_subscriptions set tier = 'pro' where user_id in (${first}, ${second})`;
    await db.sql.begin(async (tx) => {
      await tx`insert into public.user_subscriptions (user_id, tier) values (${rolledBack}, 'elite')`;
      throw new Error("roll back");
    }).catch(() => {});
    assertEquals(target.requests.length, 0, "nothing is sent from the user's transaction");

    const drainer = startTierDrainer(db.url, { intervalMs: 100 });
    try {
      const request = await waitFor("the batched kick", () => target.requests[0]);
      assertEquals(request.method, "POST");
      assertEquals(request.path, "/functions/v1/provision-user-fly-app");
      assertEquals(request.headers.get("authorization"), `Bearer ${secret}`);
      assertEquals(request.headers.get("content-type"), "application/json");
      const body = JSON.parse(request.body);
      assertEquals(body.reason, "tier_changed");
      assertEquals(
        [...body.user_ids].sort(),
        [first, second].sort(),
        "both users, once each, in one request",
      );

      // The response lands in net._http_response under the request id the events recorded.
      const events = await db.sql`
        select user_id, (metadata -> 'kick' ->> 'request_id')::bigint as request_id from public.user_fly_app_events
        where event_type = 'provision_requested' order by seq`;
      assertEquals(events.length, 2);
      assertEquals(events[0].request_id, events[1].request_id, "one request id for the batch");
      const response = await waitFor("the response row", async () => {
        const [row] = await db.sql`select status_code from net._http_response where id = ${
          events[0].request_id
        }`;
        return row;
      });
      assertEquals(response.status_code, 202);

      await drainer.drainNow();
      await worker.drain();
      assertEquals(
        target.requests.length,
        1,
        "exactly one request in all; nothing for the rolled-back change",
      );
      const [row] = await db
        .sql`select count(*)::int as n from public.user_fly_apps where user_id = ${rolledBack}`;
      assertEquals(row.n, 0);
    } finally {
      await drainer.stop();
    }
  } finally {
    await worker.stop();
    await target.close();
    await db.drop();
  }
});

Deno.test("two concurrent drainers never apply an older tier after a newer one", async () => {
  const db = await createMigratedDatabase();
  const a = connect(db.url, 1);
  const b = connect(db.url, 1);
  try {
    await upsertVaultSecret(db.sql, "project_url", "http://127.0.0.1:9");
    await upsertVaultSecret(db.sql, "fly_kick_secret", "s");
    const [user] = await createUsers(db, 1);
    await db.sql`insert into public.user_subscriptions (user_id, tier) values (${user}, 'pro')`;

    // Drainer A takes the 'pro' change and keeps its transaction open (as a slow drain would) ...
    let release!: () => void;
    const held = new Promise<void>((resolve) => release = resolve);
    let firstReport: Record<string, unknown> | undefined;
    const inA = a.begin(async (tx) => {
      [{ report: firstReport }] = await tx`select private.drain_tier_outbox() as report`;
      await held;
    });
    await waitFor("drainer A to take the change", () => firstReport);
    assertEquals(firstReport!.drained, 1);
    // ... the user downgrades meanwhile, and drainer B runs: it must not apply 'free' before A commits 'pro'.
    await db.sql`update public.user_subscriptions set tier = 'free' where user_id = ${user}`;
    const [{ report: busy }] = await b`select private.drain_tier_outbox() as report`;
    assertEquals(busy.busy, true, "B backs off while A holds the drain lock");
    release();
    await inA;
    const [{ report: after }] = await b`select private.drain_tier_outbox() as report`;
    assertEquals([after.drained, after.users], [1, 1]);
    const [row] = await db.sql`
      select desired_state, desired_generation::int as generation from public.user_fly_apps where user_id = ${user}`;
    assertEquals(
      { ...row },
      { desired_state: "absent", generation: 2 },
      "the newest tier is the last applied",
    );
  } finally {
    await a.end({ timeout: 2 });
    await b.end({ timeout: 2 });
    await db.drop();
  }
});

Deno.test("without Vault secrets the drainer warns, keeps the changes, and drains them once Vault is set", async () => {
  const db = await createMigratedDatabase();
  const notices: { severity: string; message: string }[] = [];
  const listening = postgres(db.url, {
    max: 1,
    onnotice: (notice) =>
      notices.push({ severity: notice.severity as string, message: notice.message as string }),
  });
  try {
    const [user] = await createUsers(db, 1);
    await db.sql`insert into public.user_subscriptions (user_id, tier) values (${user}, 'pro')`;
    const [{ report }] = await listening`select private.drain_tier_outbox() as report`;
    assertEquals(report.problem, "vault secret project_url is missing");
    assertEquals(report.drained, 0);
    const warning = notices.find((n) => n.severity === "WARNING");
    assert(warning, "a WARNING reaches the client");
    assert(warning.message.includes("vault secret project_url is missing"), warning.message);
    const [queued] = await db.sql`select count(*)::int as n from private.tier_outbox`;
    assertEquals(queued.n, 1, "the change is kept");
    const events = await db
      .sql`select event_type, status from public.user_fly_app_events where user_id = ${user}`;
    assertEquals(events.map((e) => [e.event_type, e.status]), [["kick_failed", "warning"]]);

    await upsertVaultSecret(db.sql, "project_url", "http://127.0.0.1:9");
    await upsertVaultSecret(db.sql, "fly_kick_secret", "s");
    const [{ report: drained }] = await listening`select private.drain_tier_outbox() as report`;
    assertEquals([drained.drained, drained.users, drained.kicked], [1, 1, true]);
    const [app] = await db.sql`select desired_state from public.user_fly_apps where user_id = ${user}`;
    assertEquals(app.desired_state, "present", "nothing was lost");
  } finally {
    await listening.end({ timeout: 2 });
    await db.drop();
  }
});
