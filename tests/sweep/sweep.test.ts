/** The health sweep against a real database and the Machines API emulator. */
import { assert, assertEquals } from "../_support/assert.ts";
import { createUsers } from "../_support/migrated_database.ts";
import { startHttpRecorder } from "../_support/http_recorder.ts";
import { type EngineFixture, withEngine } from "../_support/engine_fixture.ts";
import { appNameCandidate } from "../../supabase/functions/_shared/engine/app_name.ts";
import { flyFleetLister } from "../../supabase/functions/_shared/sweep/fleet_listing.ts";
import { runHealthSweep, type SweepReport } from "../../supabase/functions/_shared/sweep/sweep.ts";

function sweep(f: EngineFixture, budgetMs = 20_000, limit = 100): Promise<SweepReport> {
  return runHealthSweep(f.deps, {
    owner: `sweep:${crypto.randomUUID()}`,
    limit,
    budgetMs,
    lister: flyFleetLister(f.deps.fly, f.emulator.orgSlug),
  });
}

/** Machines of an app in the emulator that are not destroyed. */
function liveMachines(f: EngineFixture, appName: string) {
  const app = f.emulator.state().apps.find((a) => a.name === appName);
  return (app?.machines ?? []).filter((m) => m.state !== "destroyed");
}

Deno.test("sweep: a tier change whose kick was lost is converged by the next sweep", async () => {
  await withEngine(async (f) => {
    // The fixture drains the tier outbox without a kick (as if it were lost): the row is due, nothing ran.
    const [user] = await f.subscribe("pro");
    assertEquals(await f.eventTypes(user), ["provision_requested"]);
    const report = await sweep(f);
    assertEquals(report.reconciled.converged, 1);
    assertEquals((await f.row(user)).status, "active");
    assertEquals(f.emulator.state().apps.length, 1);
  });
});

Deno.test("sweep: a machine stopped behind our back is started again, health unhealthy -> healthy", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    await f.reconcile(user);
    const row = await f.row(user);
    f.emulator.setMachineState(row.fly_app_name!, row.machine_id!, "stopped");

    const report = await sweep(f);
    assertEquals([report.observed.checked, report.observed.repaired], [1, 1]);
    assertEquals(liveMachines(f, row.fly_app_name!).map((m) => [m.id, m.state]), [[
      row.machine_id,
      "started",
    ]]);
    const [{ transitions }] = await f.db.sql`
      select json_agg(json_build_array(metadata->>'from', metadata->>'to') order by seq) as transitions
      from public.user_fly_app_events where user_id = ${user} and event_type = 'health_changed'`;
    assertEquals(transitions, [["unknown", "healthy"], ["healthy", "unhealthy"], ["unhealthy", "healthy"]]);
    assert((await f.eventTypes(user)).includes("repaired"));
    assertEquals((await f.row(user)).health_status, "healthy");

    // Nothing changed since: the next sweep observes and writes no event.
    const eventsBefore = (await f.eventTypes(user)).length;
    const quiet = await sweep(f);
    assertEquals([quiet.observed.checked, quiet.observed.repaired], [1, 0]);
    assertEquals((await f.eventTypes(user)).length, eventsBefore);
  });
});

Deno.test("sweep: a destroyed machine and a deleted app are recreated", async () => {
  await withEngine(async (f) => {
    const [first, second] = await f.subscribe("pro", 2);
    await f.reconcile(first);
    await f.reconcile(second);
    const a = await f.row(first);
    const b = await f.row(second);
    await f.deps.fly.machines.delete(a.fly_app_name!, a.machine_id!, { force: true });
    await f.deps.fly.apps.delete(b.fly_app_name!);

    const report = await sweep(f);
    assertEquals(report.observed.repaired, 2);
    assertEquals(liveMachines(f, a.fly_app_name!).length, 1);
    assert(liveMachines(f, a.fly_app_name!)[0].id !== a.machine_id);
    assertEquals(liveMachines(f, b.fly_app_name!).length, 1);
    assertEquals((await f.row(second)).fly_app_name, b.fly_app_name);
  });
});

Deno.test("sweep: a paid user with no row gets one and an app", async () => {
  await withEngine(async (f) => {
    await f.db.sql`alter table public.user_subscriptions disable trigger user`;
    const [user] = await f.subscribe("elite");
    await f.db.sql`alter table public.user_subscriptions enable trigger user`;
    assertEquals((await f.db.sql`select 1 from public.user_fly_apps where user_id = ${user}`).length, 0);

    const report = await sweep(f);
    assertEquals(report.drift_rows, 1);
    assertEquals((await f.row(user)).status, "active");
    assert((await f.eventTypes(user)).includes("drift_detected"));
  });
});

Deno.test("sweep: orphan apps are reported, and deleted only when configured, never one in flight", async () => {
  await withEngine(async (f) => {
    const naming = f.deps.config.appNaming;
    const orphan = await appNameCandidate(crypto.randomUUID(), 0, naming);
    await f.deps.fly.apps.create({ name: orphan, org_slug: f.emulator.orgSlug });
    await f.deps.fly.apps.create({ name: "someone-elses-app", org_slug: f.emulator.orgSlug });

    const reported = await sweep(f);
    assertEquals([reported.orphans.found, reported.orphans.deleted], [[orphan], []]);

    // A user being provisioned right now (row leased) whose app exists but is not recorded yet.
    const [busy] = await f.subscribe("pro");
    const inFlight = await appNameCandidate(busy, 0, naming);
    await f.deps.fly.apps.create({ name: inFlight, org_slug: f.emulator.orgSlug });
    await f.deps.repo.leases.claimUser(busy, "another-reconciler", 300);

    f.reconfigure({ FLY_DELETE_ORPHAN_APPS: "true" });
    const cleaned = await sweep(f);
    assertEquals(cleaned.orphans.deleted, [orphan]);
    assertEquals(f.emulator.state().apps.map((a) => a.name).sort(), [inFlight, "someone-elses-app"].sort());
  });
});

Deno.test("sweep: stops taking work when its budget runs low and leaves the rest due", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 8);
    const report = await sweep(f, 1_500);
    assertEquals(report.stopped_early, true);
    assert(report.reconciled.attempted < users.length, `attempted ${report.reconciled.attempted}`);
    // Work in flight finishes its current Fly call (rate-limited app creates): a bounded overrun.
    assert(report.duration_ms < 1_500 + 4_000, `took ${report.duration_ms} ms`);

    const untouched = await f.db.sql<{ user_id: string }[]>`
      select user_id from public.user_fly_apps
      where status = 'pending' and retry_count = 0 and next_attempt_at <= now()`;
    assertEquals(untouched.length, users.length - report.reconciled.attempted);

    // The next sweep takes them (and any attempted row whose jittered backoff has already run out).
    const next = await sweep(f);
    assert(next.reconciled.converged >= untouched.length, `converged ${next.reconciled.converged}`);
    for (const { user_id } of untouched) assertEquals((await f.row(user_id)).status, "active");
  }, { emulator: { latency: { bootMs: 400 } } });
});

Deno.test("sweep: every run is stored with its report; the fleet listing sees every machine and flags a stopped one", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 3);
    for (const user of users) await f.reconcile(user);
    const first = await sweep(f);
    assert(!("error" in first.fleet), `fleet listing failed: ${JSON.stringify(first.fleet)}`);
    assertEquals([first.fleet.full, first.fleet.apps, first.fleet.rows], [true, 3, 3]);

    const stopped = await f.row(users[1]);
    f.emulator.setMachineState(stopped.fly_app_name!, stopped.machine_id!, "stopped");
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await sweep(f);
    assert(!("error" in second.fleet));
    assertEquals(second.fleet.full, false, "an incremental listing follows a full one");
    assert(second.fleet.flagged >= 1);
    assertEquals(second.observed.repaired, 1);
    assertEquals((await f.row(users[1])).last_machine_state, "started");

    const runs = await f.db.sql<{ id: number; report: SweepReport; finished_at: string | null }[]>`
      select id, report, finished_at from public.fly_sweep_runs order by id`;
    assertEquals(runs.length, 2);
    assert(runs.every((run) => run.finished_at !== null));
    assertEquals(runs[1].report.observed.repaired, 1);
    assertEquals(runs[1].report.run_id, Number(runs[1].id));

    // Both complete listings fed runtime accounting: every machine was started at the first, so the time
    // between the two counts (the approximation of runtime from observations).
    const usage = await f.db.sql<{ user_id: string; running_seconds: number }[]>`
      select user_id, running_seconds from public.user_fly_app_usage_daily where running_seconds > 0`;
    assertEquals(usage.map((u) => u.user_id).sort(), [...users].sort());
  });
});

Deno.test("sweep: a backlog of due rows does not stop observation of the rest of the fleet", async () => {
  await withEngine(async (f) => {
    const active = await f.subscribe("pro", 4);
    await Promise.all(active.map((user) => f.reconcile(user)));
    const backlog = await f.subscribe("pro", 12);
    const report = await sweep(f, 6_000);
    assert(report.reconciled.attempted >= 4 && report.reconciled.attempted < backlog.length);
    assertEquals(
      report.reconciled.progressing,
      report.reconciled.attempted,
      "slow boots progress, no failure",
    );
    assertEquals(report.observed.checked, active.length);
    const retries = await f.db.sql`select 1 from public.user_fly_apps where retry_count > 0`;
    assertEquals(retries.length, 0);
  }, { emulator: { latency: { bootMs: 5_000 } } });
});

Deno.test("sweep: one app that cannot be checked is counted as errored and the others go on", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 3);
    for (const user of users) await f.reconcile(user);
    const broken = (await f.row(users[0])).fly_app_name;
    const list = f.deps.fly.machines.list.bind(f.deps.fly.machines);
    f.deps.fly.machines.list = (appName, options) =>
      appName === broken ? Promise.reject(new Error("connection reset")) : list(appName, options);
    const report = await sweep(f);
    assertEquals(report.observed.errored, 1);
    assertEquals(report.observed.checked, 2);
  });
});

Deno.test("sweep: a held user's stopped machine is reported, not repaired", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    await f.reconcile(user);
    await f.db
      .sql`update public.user_fly_apps set held_at = now(), held_by = 'ops:test', next_attempt_at = now()
                   where user_id = ${user}`;
    assertEquals((await f.reconcile(user)).outcome, "converged");
    const held = await f.row(user);
    assertEquals([held.status, held.last_machine_state], ["held", "stopped"]);
    for (let run = 0; run < 2; run++) {
      const report = await sweep(f);
      assertEquals(report.observed.repaired, 0);
    }
    assertEquals(liveMachines(f, held.fly_app_name!).map((m) => m.state), ["stopped"]);
  });
});

Deno.test("sweep: drains the tier outbox first, and alerts when its oldest change waited too long", async () => {
  const webhook = startHttpRecorder();
  try {
    await withEngine(async (f) => {
      const [user] = await createUsers(f.db, 1);
      await f.db.sql`insert into public.user_subscriptions (user_id, tier) values (${user}, 'pro')`;
      await f.db.sql`update private.tier_outbox set queued_at = now() - interval '10 minutes'`;
      const report = await sweep(f);
      assertEquals([report.outbox.drained, report.outbox.users], [1, 1]);
      assert((report.outbox.oldest_age_s ?? 0) >= 600, JSON.stringify(report.outbox));
      assertEquals((await f.row(user)).status, "active", "the drained change was reconciled in the same run");
      const alerts = webhook.requests.map((r) => JSON.parse(r.body));
      assertEquals(alerts.map((a) => [a.type, a.reason]), [["fly_outbox_alert", "outbox_stale"]]);

      // A fresh change is drained without an alert.
      await f.setTier(user, "free");
      const quiet = await sweep(f);
      assertEquals(webhook.requests.length, 1);
      assertEquals(quiet.outbox.oldest_age_s, 0, "an empty outbox has age 0");
    }, { env: { ALERT_WEBHOOK_URL: webhook.url } });
  } finally {
    await webhook.close();
  }
});
