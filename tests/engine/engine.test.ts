/** The controller (claim -> reconcile -> record) against a real database and the Machines API emulator. */
import { assert, assertEquals } from "../_support/assert.ts";
import { startHttpRecorder } from "../_support/http_recorder.ts";
import { APP_SECRET_VALUE, withEngine } from "../_support/engine_fixture.ts";
import { appNameCandidate } from "../../supabase/functions/_shared/engine/app_name.ts";
import { type Machine, MachineSchema } from "../../supabase/functions/_shared/fly/schemas/machines.ts";
import type { EngineFixture } from "../_support/engine_fixture.ts";
import { type RolloutSpec, RolloutsRepository } from "../../supabase/functions/_shared/db/fly_rollouts.ts";

/** The machines of the emulator's only app that are not destroyed, typed like the client sees them. */
function liveMachines(f: EngineFixture): Machine[] {
  return f.emulator.state().apps[0].machines.map((m) => MachineSchema.parse(m)).filter((m) =>
    m.state !== "destroyed"
  );
}

/** Requests that change something on Fly, by operation. */
function mutations(counts: Record<string, Record<string, number>>): Record<string, number> {
  const changing = /create|update|delete|start|stop|Secrets_update/i;
  return Object.fromEntries(
    Object.entries(counts).filter(([op]) => changing.test(op)).map((
      [op, byStatus],
    ) => [op, Object.values(byStatus).reduce((a, b) => a + b, 0)]),
  );
}

Deno.test("engine: a pro user gets one app with IPs, secrets and one started machine of the plan", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    const result = await f.reconcile(user);
    assertEquals(result.outcome, "converged");

    const [app] = f.emulator.state().apps;
    assertEquals(app.name, await appNameCandidate(user, 0, f.deps.config.appNaming));
    assertEquals(app.ips.length, 2);
    assertEquals(app.secrets.map((s) => [s.name, s.value]), [["OPENAI_API_KEY", APP_SECRET_VALUE]]);
    assertEquals(app.machines.length, 1);
    const [machine] = liveMachines(f);
    assertEquals(machine.state, "started");
    assertEquals(machine.region, "sin");
    assertEquals(machine.config.guest, { cpu_kind: "shared", cpus: 2, memory_mb: 512 });
    assertEquals(machine.config.env, { USER_ID: user, RUN_MODE: "user_dedicated" });
    assertEquals(machine.config.restart?.policy, "always");
    assertEquals(machine.config.checks?.health?.path, "/health");
    assertEquals(machine.config.metadata?.user_id, user);

    const row = await f.row(user);
    assertEquals(row.status, "active");
    assertEquals(row.machine_id, machine.id);
    assertEquals(row.observed_generation, row.desired_generation);
    assertEquals(row.secrets_version, app.secrets_version);
    assert(row.secrets_digest && row.secrets_digest !== APP_SECRET_VALUE);
    assertEquals(JSON.stringify(row).includes(APP_SECRET_VALUE), false);
    const [{ events }] = await f.db.sql`select json_agg(e)::text as events from public.user_fly_app_events e`;
    assertEquals(String(events).includes(APP_SECRET_VALUE), false);
    assertEquals(f.logs.join("\n").includes(APP_SECRET_VALUE), false);

    const types = await f.eventTypes(user);
    const order = ["provision_started", "app_created", "ip_assigned", "secrets_set", "machine_created"];
    assertEquals(
      order.map((t) => types.indexOf(t)).every((i, k, all) => i >= 0 && (k === 0 || i > all[k - 1])),
      true,
    );
    assertEquals(types.at(-1), "provision_completed");
  });
});

Deno.test("engine: a second reconcile with nothing to change changes nothing on Fly", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    await f.reconcile(user);
    const before = mutations(f.emulator.requestCounts());
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals(mutations(f.emulator.requestCounts()), before);
    assertEquals(f.emulator.state().apps[0].machines.length, 1);
  });
});

Deno.test("engine: a name held by another org moves to the next deterministic candidate and records it", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    const first = await appNameCandidate(user, 0, f.deps.config.appNaming);
    const second = await appNameCandidate(user, 1, f.deps.config.appNaming);
    f.emulator.setReservedNames([first]);
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals((await f.row(user)).fly_app_name, second);
    assertEquals(f.emulator.state().apps.map((a) => a.name), [second]);
    assert((await f.eventTypes(user)).includes("app_name_taken"));
  });
});

/** Rolls `target` out to every pro user through the controller, one reconcile per target, and completes it. */
async function rollOut(f: EngineFixture, target: RolloutSpec): Promise<void> {
  const rollouts = new RolloutsRepository(f.db.sql);
  const rollout = await rollouts.create(
    { target, tier: "pro", canary_count: 0, batch_size: 10 },
    "engine-test",
  );
  await rollouts.leaseRunning("engine-test", 60);
  for (const claimed of await rollouts.claimTargets(rollout.id, "engine-test", 10)) {
    assertEquals((await f.reconcile(claimed.user_id)).outcome, "converged");
    await rollouts.recordTarget(rollout.id, "engine-test", { userId: claimed.user_id, outcome: "healthy" });
  }
  assertEquals((await rollouts.transition(rollout.id, "complete", "engine-test")).rollout.state, "completed");
}

Deno.test("engine: a plan change alone changes no machine; a rollout resizes in place, moves region by replacing", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    await f.reconcile(user);
    const [original] = liveMachines(f);

    await f.db.sql`update public.fly_plans set memory_mb = 1024 where tier = 'pro'`;
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals(liveMachines(f).map((m) => [m.id, m.config.guest?.memory_mb]), [
      [original.id, original.config.guest?.memory_mb],
    ]);
    assertEquals(Object.keys((await f.row(user)).drift ?? {}), ["guest"], "recorded as drift, not applied");

    await rollOut(f, { memory_mb: 1024 });
    const resized = liveMachines(f);
    assertEquals(resized.map((m) => [m.id, m.config.guest?.memory_mb]), [[original.id, 1024]]);
    assertEquals(resized[0].config.metadata?.create_token, original.config.metadata?.create_token);
    assertEquals((await f.row(user)).memory_mb, 1024);
    assertEquals((await f.row(user)).drift, {}, "the completed rollout put the plan in sync");

    await rollOut(f, { region: "ams" });
    const live = liveMachines(f);
    assertEquals(live.length, 1);
    assertEquals(live[0].region, "ams");
    assert(live[0].id !== original.id);
    assertEquals((await f.row(user)).region, "ams");
    assert((await f.eventTypes(user)).includes("machine_updated"));
    const [plan] = await f.db.sql`select region, memory_mb from public.fly_plans where tier = 'pro'`;
    assertEquals([plan.region, plan.memory_mb], ["ams", 1024]);
    // The next reconcile keeps everything as it is.
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals(liveMachines(f).map((m) => m.id), [live[0].id]);
  });
});

Deno.test("engine: new secret values are set in one version and rolled to the machine", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    await f.reconcile(user);
    const before = f.emulator.state().apps[0];
    f.reconfigure({ OPENAI_API_KEY: "sk-test-rotated-value-424242" });
    assertEquals((await f.reconcile(user)).outcome, "converged");
    const after = f.emulator.state().apps[0];
    assertEquals(after.secrets[0].value, "sk-test-rotated-value-424242");
    assert(after.secrets_version > before.secrets_version);
    assertEquals((await f.row(user)).secrets_version, after.secrets_version);
    const counts = f.emulator.requestCounts();
    assertEquals(Object.values(counts.Machines_update ?? {}).reduce((a, b) => a + b, 0), 1);
  });
});

Deno.test("engine: downgrade deletes app and machine; upgrading again reuses the row and the name", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    await f.reconcile(user);
    const provisioned = await f.row(user);

    await f.setTier(user, "free");
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals(f.emulator.state().apps.length, 0);
    const deleted = await f.row(user);
    assertEquals([deleted.status, deleted.machine_id], ["deleted", null]);
    assert(deleted.deleted_at);

    await f.setTier(user, "pro");
    assertEquals((await f.reconcile(user)).outcome, "converged");
    const again = await f.row(user);
    assertEquals([again.id, again.fly_app_name, again.status, again.deleted_at], [
      provisioned.id,
      provisioned.fly_app_name,
      "active",
      null,
    ]);
    assertEquals(f.emulator.state().apps.map((a) => a.name), [provisioned.fly_app_name]);
  });
});

Deno.test("engine: a machine create whose response was dropped is found by its token, not created twice", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    f.emulator.faults.add({ operation: "Machines_create", action: { type: "drop-response" }, times: 1 });
    assertEquals((await f.reconcile(user)).outcome, "converged");
    const machines = liveMachines(f);
    assertEquals(machines.length, 1);
    assertEquals((await f.row(user)).machine_id, machines[0].id);
  });
});

Deno.test("engine: a machine that cannot boot backs off when due, and the third due failure alerts", async () => {
  const webhook = startHttpRecorder();
  try {
    await withEngine(async (f) => {
      const [user] = await f.subscribe("pro");
      for (let attempt = 1; attempt <= 3; attempt++) {
        // The schedule makes the row due (as the sweep's claim would find it).
        await f.db.sql`update public.user_fly_apps set next_attempt_at = now() where user_id = ${user}`;
        const result = await f.reconcile(user, 10_000);
        assertEquals(result.outcome, "failed", `attempt ${attempt}: ${JSON.stringify(result)}`);
        const row = await f.row(user);
        assertEquals([row.status, row.retry_count], ["failed", attempt]);
        const delay = Date.parse(row.next_attempt_at!) - Date.now();
        assert(delay >= -1000 && delay <= f.deps.config.reconcile.backoff.maxMs, `backoff ${delay} ms`);
        assertEquals(webhook.requests.length, attempt === 3 ? 1 : 0);
      }
      const alert = JSON.parse(webhook.requests[0].body);
      assertEquals([alert.user_id, alert.reason, alert.retry_count], [user, "consecutive_failures", 3]);
      assertEquals((await f.eventTypes(user)).filter((t) => t === "alert_raised").length, 1);
      assertEquals(liveMachines(f).length, 1);
    }, { env: { FLY_APP_IMAGE: "registry.example.com/unpullable:1", ALERT_WEBHOOK_URL: webhook.url } });
  } finally {
    await webhook.close();
  }
});

Deno.test("engine: failed attempts the schedule did not make due leave the retry count and schedule alone", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    assertEquals((await f.reconcile(user, 10_000)).outcome, "failed");
    // The jittered backoff may be short: schedule the retry well ahead, as a longer backoff would.
    await f.db.sql`update public.user_fly_apps set next_attempt_at = now() + interval '1 hour'
                   where user_id = ${user}`;
    const scheduled = await f.row(user);
    assertEquals(scheduled.retry_count, 1);
    // Ten ops calls or duplicate kicks while the retry is scheduled.
    await Promise.all(Array.from({ length: 10 }, () => f.reconcile(user, 4_000)));
    const after = await f.row(user);
    assertEquals(after.retry_count, 1);
    assertEquals(after.next_attempt_at, scheduled.next_attempt_at);
    const failed = await f.db.sql<{ counted: string }[]>`
      select metadata ->> 'counted' as counted from public.user_fly_app_events
      where user_id = ${user} and event_type = 'provision_failed' order by seq`;
    assertEquals(failed.map((e) => e.counted), ["true", ...Array(failed.length - 1).fill("false")]);
  }, { env: { FLY_APP_IMAGE: "registry.example.com/unpullable:1" } });
});

Deno.test("engine: running out of the caller's time is progressing, not a failure", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    const result = await f.reconcile(user, 1_500);
    assertEquals(result.outcome, "progressing");
    const row = await f.row(user);
    assertEquals([row.status, row.retry_count, row.error_message], ["provisioning", 0, null]);
    const due = Date.parse(row.next_attempt_at!) - Date.now();
    assert(due <= 5_000, `requeued after ${due} ms`);
    assertEquals((await f.eventTypes(user)).includes("alert_raised"), false);
    // The next attempt, with time, goes on from there and converges on the same machine.
    const machineId = row.machine_id;
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assertEquals((await f.row(user)).machine_id, machineId);
  }, { emulator: { latency: { bootMs: 3_000 } } });
});

Deno.test("engine: whatever throws between claim and record, the lease is released", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    const original = f.deps.repo.records.recordOutcome.bind(f.deps.repo.records);
    f.deps.repo.records.recordOutcome = () => Promise.reject(new Error("database went away"));
    let thrown: unknown;
    try {
      await f.reconcile(user);
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof Error && thrown.message === "database went away");
    f.deps.repo.records.recordOutcome = original;
    const row = await f.row(user);
    assertEquals([row.lease_owner, row.lease_expires_at], [null, null]);
    assertEquals((await f.reconcile(user)).outcome, "converged");
  });
});

Deno.test("engine: the heartbeat keeps a long reconcile's lease, so nobody else takes the row", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    const running = f.reconcile(user, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 13_000));
    const row = await f.row(user);
    assert(row.lease_owner?.startsWith("test:"), "still leased by the reconcile");
    assert(Date.parse(row.lease_expires_at!) > Date.now() + 3_000, "renewed past its first expiry");
    assertEquals((await f.deps.repo.leases.claimUser(user, "intruder", 10)).status, "leased");
    assertEquals((await running).outcome, "converged");
  }, { env: { RECONCILE_LEASE_SECONDS: "10" }, emulator: { latency: { bootMs: 16_000 } } });
});

Deno.test("engine: a rejected token is a permanent error with an alert at once", async () => {
  const webhook = startHttpRecorder();
  try {
    await withEngine(async (f) => {
      const [user] = await f.subscribe("pro");
      f.reconfigure({ FLY_API_TOKEN: "wrong-token", ALERT_WEBHOOK_URL: webhook.url });
      f.deps.fly = (await import("../../supabase/functions/_shared/fly/mod.ts")).createFlyClient({
        token: "wrong-token",
        baseUrl: f.emulator.url,
      });
      const result = await f.reconcile(user);
      assertEquals(result.outcome, "terminal");
      const row = await f.row(user);
      assertEquals([row.status, row.next_attempt_at], ["error", null]);
      assert(String(row.error_message).includes("FLY_API_TOKEN"));
      assertEquals(String(row.error_message).includes("wrong-token"), false);
      assertEquals(JSON.parse(webhook.requests[0].body).reason, "permanent_failure");
    });
  } finally {
    await webhook.close();
  }
});

Deno.test("engine: a row leased by another reconciler is waited for, then reported busy at the deadline", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    const claim = await f.deps.repo.leases.claimUser(user, "someone-else", 60);
    assertEquals(claim.status, "claimed");
    const started = Date.now();
    assertEquals((await f.reconcile(user, 1_200)).outcome, "busy");
    assert(Date.now() - started >= 700, "gave up without waiting");
    assertEquals(f.emulator.state().apps.length, 0);
  });
});

Deno.test("engine: a reconcile waiting for a lease goes on once it is released", async () => {
  await withEngine(async (f) => {
    const [user] = await f.subscribe("pro");
    const claim = await f.deps.repo.leases.claimUser(user, "someone-else", 60);
    assert(claim.status === "claimed");
    const release = new Promise((resolve) => setTimeout(resolve, 600))
      .then(() => f.deps.repo.leases.release(claim.app.id, "someone-else"));
    assertEquals((await f.reconcile(user)).outcome, "converged");
    await release;
    assertEquals(f.emulator.state().apps.length, 1);
  });
});
