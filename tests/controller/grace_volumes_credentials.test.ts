/**
 * The controller with volumes, the downgrade grace period and the scoped credential, against a real database
 * and the Machines API emulator: one volume mounted by one machine (also under dropped responses), a
 * downgrade that suspends and a sweep that deletes after the grace, a re-upgrade that resumes the same
 * machine, the credential minted into the app's secrets and re-minted near its expiry.
 */
import { jwtVerify } from "jose";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { ConfigError } from "../../supabase/functions/_shared/config.ts";
import type { DesiredSpec, UserFlyApp } from "../../supabase/functions/_shared/db/user_fly_apps.ts";
import { outcomeRecord } from "../../supabase/functions/_shared/controller/controller.ts";
import { LEGACY_SECRET } from "../credentials/_keys.ts";
import { type EngineFixture, withEngine } from "../_support/engine_fixture.ts";
import { flyFleetLister } from "../../supabase/functions/_shared/sweep/fleet_listing.ts";
import { runHealthSweep, type SweepReport } from "../../supabase/functions/_shared/sweep/sweep.ts";
import { unitTestConfig } from "../_support/unit_config.ts";

function sweep(f: EngineFixture): Promise<SweepReport> {
  return runHealthSweep(f.deps, {
    owner: `sweep:${crypto.randomUUID()}`,
    limit: 100,
    budgetMs: 20_000,
    lister: flyFleetLister(f.deps.fly, f.emulator.orgSlug),
  });
}

/** The only app in the emulator. */
function theApp(f: EngineFixture) {
  const apps = f.emulator.state().apps;
  assertEquals(apps.length, 1, "exactly one app");
  return apps[0];
}

/** Gives the pro plan a 1 GB volume at /data. */
async function volumePlan(f: EngineFixture): Promise<void> {
  await f.db
    .sql`update public.fly_plans set volume_size_gb = 1, volume_mount_path = '/data' where tier = 'pro'`;
}

/** A pro user with a volume plan, provisioned. */
async function provisioned(f: EngineFixture): Promise<string> {
  await volumePlan(f);
  const [user] = await f.subscribe("pro");
  assertEquals((await f.reconcile(user)).outcome, "converged");
  return user;
}

Deno.test("volumes: the plan's volume is created before the machine, mounted, recorded; nothing changes again", async () => {
  await withEngine(async (f) => {
    const user = await provisioned(f);
    const app = theApp(f);
    assertEquals(app.volumes.map((v) => [v.region, v.size_gb]), [["sin", 1]]);
    assertEquals(app.machines.length, 1);
    const [machine] = app.machines;
    const row = await f.row(user);
    assertEquals(row.volume_id, app.volumes[0].id);
    assertEquals((machine.config as { mounts?: unknown }).mounts, [{ volume: row.volume_id, path: "/data" }]);
    const types = await f.eventTypes(user);
    assert(types.indexOf("volume_created") < types.indexOf("machine_created"), types.join(", "));

    const before = JSON.stringify(f.emulator.requestCounts());
    assertEquals((await f.reconcile(user)).outcome, "converged");
    const counts = f.emulator.requestCounts();
    for (const op of ["Volumes_create", "Machines_create", "Machines_update", "Secrets_update"]) {
      assertEquals(JSON.stringify(counts[op]), JSON.stringify(JSON.parse(before)[op]), `${op} again`);
    }
    const report = await sweep(f);
    assertEquals([report.observed.repaired, report.observed.drifted], [0, 0], "a mounted volume is no drift");
  });
});

Deno.test("volumes: with 30% of responses dropped after processing, still one volume and one machine", async () => {
  const seed = Math.floor(Math.random() * 2 ** 32);
  await withEngine(async (f) => {
    await volumePlan(f);
    const [user] = await f.subscribe("pro");
    // The first volume create's answer is always lost (the case that could leak a second volume), then 30 %
    // of all answers at random: a run with few requests could otherwise drop none and prove nothing.
    f.emulator.faults.add({ operation: "Volumes_create", action: { type: "drop-response" }, times: 1 });
    f.emulator.faults.add({ operation: "*", action: { type: "drop-response" }, probability: 0.3 });
    let attempts = 0;
    while ((await f.row(user)).status !== "active") {
      assert(attempts++ < 20, `not converged after 20 attempts (fault seed ${seed})`);
      await f.reconcile(user);
    }
    f.emulator.faults.clear();
    const dropped = Object.values(f.emulator.requestCounts()).reduce((n, c) => n + (c.dropped ?? 0), 0);
    assert(dropped > 0, `responses were dropped (fault seed ${seed})`);
    const app = theApp(f);
    assertEquals(app.volumes.length, 1, `one volume (fault seed ${seed})`);
    assertEquals(app.machines.length, 1, `one machine ever created (fault seed ${seed})`);
    assertEquals((await f.row(user)).volume_id, app.volumes[0].id);
  }, { emulator: { faultSeed: seed } });
});

Deno.test("grace: a downgrade stops the machine and keeps app and volume; the sweep deletes them after it", async () => {
  // Long enough for the reconcile and two sweeps to finish within it on a loaded machine.
  const graceMs = 6_000;
  await withEngine(async (f) => {
    f.reconfigure({ DEPROVISION_GRACE_SECONDS: String(graceMs / 1000) });
    const user = await provisioned(f);
    const { machine_id } = await f.row(user);
    await f.setTier(user, "free");
    const downgradedAt = Date.now();
    assertEquals((await f.reconcile(user)).outcome, "converged");
    const suspended = await f.row(user);
    assertEquals(
      [suspended.status, suspended.machine_id, suspended.monthly_cost_estimate_usd, suspended.health_status],
      ["suspended", machine_id, 0.15, "unknown"],
      "the estimate drops to the kept 1 GB volume's storage (fly_prices volume_gb 0.15/GB)",
    );
    const deleteAfter = Date.parse(suspended.delete_after!);
    assert(
      Math.abs(deleteAfter - downgradedAt - graceMs) < graceMs / 2,
      `delete_after ${suspended.delete_after}`,
    );
    assertEquals(Date.parse(suspended.next_attempt_at!), deleteAfter, "due again when the grace ends");
    const app = theApp(f);
    assertEquals(app.machines.map((m) => m.state), ["stopped"]);
    assertEquals(app.volumes.length, 1);
    const types = await f.eventTypes(user);
    assert(types.includes("deprovision_suspended") && types.includes("machine_stopped"), types.join(", "));
    assertEquals(types.includes("app_deleted"), false);

    // Within the grace the sweep leaves the stopped machine alone: the fleet listing does not flag it, and a detail
    // check (forced by a state change the fleet listing sees) does not repair it. The kept app is no orphan.
    const early = await sweep(f);
    assertEquals(
      [early.reconciled.attempted, early.observed.checked, early.observed.repaired, early.orphans.found],
      [0, 0, 0, []],
    );
    await f.db.sql`update public.user_fly_apps set last_machine_state = 'started' where user_id = ${user}`;
    const checked = await sweep(f);
    assertEquals([checked.observed.checked, checked.observed.repaired, checked.reconciled.attempted], [
      1,
      0,
      0,
    ]);
    assertEquals(theApp(f).machines.map((m) => m.state), ["stopped"]);
    assertEquals((await f.row(user)).status, "suspended");

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, deleteAfter - Date.now()) + 100));
    const late = await sweep(f);
    assertEquals(late.reconciled.converged, 1);
    assertEquals(f.emulator.state().apps, [], "app (and with it machine and volume) gone");
    const deleted = await f.row(user);
    assertEquals([deleted.status, deleted.delete_after, deleted.next_attempt_at, deleted.volume_id], [
      "deleted",
      null,
      null,
      null,
    ]);
    const after = (await f.eventTypes(user)).slice(types.length);
    for (const type of ["grace_expired", "machine_destroyed", "volume_deleted", "app_deleted"]) {
      assert(after.includes(type), `${type} in ${after.join(", ")}`);
    }
  });
});

Deno.test("grace: an upgrade within the grace starts the same machine again, with its volume", async () => {
  await withEngine(async (f) => {
    f.reconfigure({ DEPROVISION_GRACE_SECONDS: "600" });
    const user = await provisioned(f);
    const active = await f.row(user);
    await f.setTier(user, "free");
    await f.reconcile(user);
    assertEquals((await f.row(user)).status, "suspended");
    // Started behind our back during the grace: the sweep stops it again and keeps the grace.
    const { delete_after } = await f.row(user);
    f.emulator.setMachineState(active.fly_app_name!, active.machine_id!, "started");
    const report = await sweep(f);
    assertEquals([report.observed.checked, report.observed.repaired], [1, 1]);
    assertEquals(theApp(f).machines.map((m) => m.state), ["stopped"]);
    assertEquals([(await f.row(user)).status, (await f.row(user)).delete_after], ["suspended", delete_after]);
    await f.setTier(user, "elite");
    const resumedAt = Date.now();
    assertEquals((await f.reconcile(user)).outcome, "converged");
    assert(Date.now() - resumedAt < 5_000, "resumed within seconds");
    const resumed = await f.row(user);
    assertEquals(
      [resumed.status, resumed.machine_id, resumed.volume_id, resumed.delete_after, resumed.next_attempt_at],
      ["active", active.machine_id, active.volume_id, null, null],
    );
    const app = theApp(f);
    assertEquals(app.machines.map((m) => [m.id, m.state]), [[active.machine_id, "started"]]);
    assertEquals(app.volumes.map((v) => v.id), [active.volume_id]);
    const types = await f.eventTypes(user);
    assert(types.includes("resumed") && types.includes("machine_started"), types.join(", "));
    assertEquals(types.filter((t) => t === "app_created" || t === "machine_created").length, 2);
  });
});

Deno.test("grace: the plan of the lower tier sets it; none (the default 0) deletes at once", async () => {
  await withEngine(async (f) => {
    await f.db.sql`update public.fly_plans set deprovision_grace_seconds = 600 where tier = 'free'`;
    const user = await provisioned(f);
    await f.setTier(user, "free");
    await f.reconcile(user);
    const row = await f.row(user);
    assertEquals(row.status, "suspended");
    assert(Date.parse(row.delete_after!) - Date.now() > 590_000, "the plan's 600 s");

    await f.db.sql`update public.fly_plans set deprovision_grace_seconds = null where tier = 'free'`;
    const [other] = await f.subscribe("pro");
    await f.reconcile(other);
    await f.setTier(other, "free");
    await f.reconcile(other);
    assertEquals((await f.row(other)).status, "deleted", "no grace configured: deleted at once");
  });
});

Deno.test("credential: minted into the app's secrets, never into rows or logs; re-minted by the sweep near expiry", async () => {
  await withEngine(async (f) => {
    f.reconfigure({ USER_JWT_SIGNING_KEY: LEGACY_SECRET });
    const [user] = await f.subscribe("pro");
    assertEquals((await f.reconcile(user)).outcome, "converged");
    const secretOf = () => theApp(f).secrets.find((s) => s.name === "SUPABASE_USER_JWT")?.value;
    const token = secretOf();
    assert(token, "the credential is in the app's secrets");
    const { payload } = await jwtVerify(token, new TextEncoder().encode(LEGACY_SECRET), {
      audience: "authenticated",
    });
    assertEquals([payload.sub, payload.role, payload.machine_credential], [user, "authenticated", true]);
    const row = await f.row(user);
    assertEquals(Date.parse(row.credential_expires_at!), payload.exp! * 1000);
    assertEquals(row.secrets_version, theApp(f).secrets_version);

    // Nothing to do while it is fresh: no new secrets version.
    await f.reconcile(user);
    assertEquals(secretOf(), token);

    // A third of its lifetime left: the sweep makes the row due and the reconcile rolls a new one out.
    await f.db.sql`update public.user_fly_apps set credential_expires_at = now() + interval '1 day'
                   where user_id = ${user}`;
    const report = await sweep(f);
    assertEquals(report.reconciled.converged, 1);
    const fresh = secretOf();
    assert(fresh && fresh !== token, "a new credential was set");
    const reminted = await f.row(user);
    assert(Date.parse(reminted.credential_expires_at!) > Date.now() + 80 * 86_400_000);
    assertEquals(reminted.next_attempt_at, null);
    const [machine] = theApp(f).machines;
    assertEquals(machine.id, row.machine_id);
    const [{ updates }] = await f.db.sql`
      select count(*)::int as updates from public.user_fly_app_events
      where user_id = ${user} and event_type = 'machine_updated' and (metadata->>'secrets_changed')::boolean`;
    assertEquals(updates, 1, "the machine update applied the new secrets version");

    const [{ dump }] = await f.db.sql`
      select (select json_agg(a)::text from public.user_fly_apps a) ||
             (select json_agg(e)::text from public.user_fly_app_events e) as dump`;
    for (const value of [token, fresh]) {
      assert(!String(dump).includes(value), "no credential in rows or events");
      assert(!f.logs.join("\n").includes(value), "no credential in logs");
    }
  });
});

Deno.test("bad input: a negative grace, a size-0 volume, a relative mount path are refused; nothing written", async () => {
  await withEngine(async (f) => {
    await assertRejects(
      () => Promise.resolve().then(() => f.reconfigure({ DEPROVISION_GRACE_SECONDS: "-5" })),
      ConfigError,
      "DEPROVISION_GRACE_SECONDS must be at least 0",
    );
    const plans = () => f.db.sql`select * from public.fly_plans order by tier`;
    const before = JSON.stringify(await plans());
    const refused = [
      () => f.db.sql`update public.fly_plans set deprovision_grace_seconds = -5 where tier = 'free'`,
      () =>
        f.db
          .sql`update public.fly_plans set volume_size_gb = 0, volume_mount_path = '/data' where tier = 'pro'`,
      () =>
        f.db
          .sql`update public.fly_plans set volume_size_gb = 1, volume_mount_path = 'data' where tier = 'pro'`,
    ];
    for (const statement of refused) {
      const error = await assertRejects(statement);
      assertEquals((error as { code?: string }).code, "23514", "a check constraint names the rule");
    }
    assertEquals(JSON.stringify(await plans()), before, "no plan changed");
  });
});

Deno.test("controller: a converged attempt that asks to be due again is scheduled then, not cleared", () => {
  const config = unitTestConfig();
  const requeueAt = "2026-12-01T00:00:00.000Z";
  const base = {
    row: { fly_app_name: "vyx-user-x", retry_count: 0, status: "active" } as unknown as UserFlyApp,
    spec: { user_id: "u", tier: "free", desired_state: "absent", desired_generation: 4 } as DesiredSpec,
    generation: 4,
    due: true,
    patch: { status: "suspended" as const, delete_after: requeueAt },
    events: [],
    reason: "kick",
    durationMs: 5,
    config,
  };
  const suspended = outcomeRecord({ ...base, attempt: { outcome: "converged", requeueAt } });
  assertEquals(
    [suspended.patch.next_attempt_at, suspended.patch.observed_generation, suspended.patch.status],
    [requeueAt, 4, "suspended"],
  );
  assertEquals(suspended.events.at(-1)?.metadata?.requeue_at, requeueAt);
  const done = outcomeRecord({ ...base, attempt: { outcome: "converged" } });
  assertEquals([done.patch.next_attempt_at, done.events.at(-1)?.metadata?.requeue_at], [null, undefined]);
});
