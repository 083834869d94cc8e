/**
 * The trigger's kick end to end through the pg_net stand-in and its worker: sent only after commit, with the
 * URL and secret from Vault; nothing after rollback; a kick that cannot be queued never fails the UPDATE.
 */
import { upsertVaultSecret } from "../../scripts/local/vault.ts";
import { assert, assertEquals } from "../_support/assert.ts";
import { connect } from "../_support/database.ts";
import { startHttpRecorder } from "../_support/http_recorder.ts";
import { waitFor } from "../_support/wait.ts";
import { startNetWorker } from "../../scripts/local/net_worker.ts";
import { createMigratedDatabase, createUsers } from "../_support/migrated_database.ts";

Deno.test("a committed tier change reaches the provision function; a rolled-back one sends nothing", async () => {
  const db = await createMigratedDatabase();
  const target = startHttpRecorder(() => Response.json({ accepted: true }, { status: 202 }));
  const worker = await startNetWorker(db.url, { pollMs: 100 });
  const secret = `kick-secret-${crypto.randomUUID()}`;
  try {
    await upsertVaultSecret(db.sql, "project_url", `${target.url}/`);
    await upsertVaultSecret(db.sql, "fly_provisioner_secret", secret);
    const [committed, rolledBack] = await createUsers(db, 2);

    await db.sql`insert into public.user_subscriptions (user_id, tier) values (${committed}, 'free')`;
    await db.sql`update public.user_subscriptions set tier = 'pro' where user_id = ${committed}`;
    await db.sql.begin(async (tx) => {
      await tx`insert into public.user_subscriptions (user_id, tier) values (${rolledBack}, 'elite')`;
      throw new Error("roll back");
    }).catch(() => {});

    const request = await waitFor(
      "the kick to arrive",
      () => target.requests.find((r) => r.body.includes(committed)),
    );
    assertEquals(request.method, "POST");
    assertEquals(request.path, "/functions/v1/provision-user-fly-app");
    assertEquals(request.headers.get("authorization"), `Bearer ${secret}`);
    assertEquals(request.headers.get("content-type"), "application/json");
    assertEquals(JSON.parse(request.body), { user_id: committed, generation: 1, reason: "tier_changed" });

    // The response lands in net._http_response under the request id the event recorded.
    const [event] = await db.sql`
      select (metadata -> 'kick' ->> 'request_id')::bigint as request_id from public.user_fly_app_events
      where user_id = ${committed} and event_type = 'provision_requested'`;
    const response = await waitFor("the response row", async () => {
      const [row] = await db.sql`select status_code from net._http_response where id = ${event.request_id}`;
      return row;
    });
    assertEquals(response.status_code, 202);

    await worker.drain();
    assertEquals(
      target.requests.filter((r) => r.body.includes(rolledBack)),
      [],
      "nothing for the rolled-back change",
    );
    assertEquals(target.requests.length, 1, "exactly one request in all");
    const [row] = await db
      .sql`select count(*)::int as n from public.user_fly_apps where user_id = ${rolledBack}`;
    assertEquals(row.n, 0);
  } finally {
    await worker.stop();
    await target.close();
    await db.drop();
  }
});

Deno.test("without Vault secrets the UPDATE commits, warns, records the desired state and a kick_failed event", async () => {
  const db = await createMigratedDatabase();
  const notices: { severity: string; message: string }[] = [];
  const sql = connect(db.url, 1);
  const listening = (await import("postgres")).default(db.url, {
    max: 1,
    onnotice: (notice) =>
      notices.push({ severity: notice.severity as string, message: notice.message as string }),
  });
  try {
    const [user] = await createUsers(db, 1);
    await listening`insert into public.user_subscriptions (user_id, tier) values (${user}, 'pro')`;
    const [app] = await sql`
      select desired_state, desired_generation, next_attempt_at <= now() as due from public.user_fly_apps
      where user_id = ${user}`;
    assertEquals({ ...app }, { desired_state: "present", desired_generation: "1", due: true });
    const events = await sql`
      select event_type, status, error_details from public.user_fly_app_events where user_id = ${user} order by seq`;
    assertEquals(events.map((e) => [e.event_type, e.status, e.error_details]), [
      ["provision_requested", "warning", null],
      ["kick_failed", "warning", "vault secret project_url is missing"],
    ]);
    const warning = notices.find((n) => n.severity === "WARNING");
    assert(warning, "a WARNING reaches the client");
    assert(warning.message.includes("vault secret project_url is missing"), warning.message);
    assert(warning.message.includes("sweep will catch up"), warning.message);

    // A malformed URL behaves the same; the downgrade still commits.
    await upsertVaultSecret(db.sql, "project_url", "not a url");
    await upsertVaultSecret(db.sql, "fly_provisioner_secret", "s");
    await listening`update public.user_subscriptions set tier = 'free' where user_id = ${user}`;
    const [after] =
      await sql`select desired_state, desired_generation from public.user_fly_apps where user_id = ${user}`;
    assertEquals({ ...after }, { desired_state: "absent", desired_generation: "2" });
    const [last] = await sql`
      select error_details from public.user_fly_app_events where user_id = ${user} order by seq desc limit 1`;
    assertEquals(last.error_details, "vault secret project_url is not an http(s) URL");
    const [queued] = await sql`select count(*)::int as n from net.http_request_queue`;
    assertEquals(queued.n, 0, "nothing was queued");
  } finally {
    await sql.end({ timeout: 2 });
    await listening.end({ timeout: 2 });
    await db.drop();
  }
});
