/**
 * End to end through the whole local stack (Postgres, the tier-change trigger, the pg_net worker, the
 * functions gateway, the functions, the Machines API emulator): an upgrade provisions exactly one app with one
 * started machine of the plan's size and the configured secrets (never leaked); a downgrade tears it down and
 * a re-upgrade reuses the row; rapid flips converge to one app and one machine.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { waitFor } from "../_support/wait.ts";
import { assertAbsent, configOf, liveMachines, type Stack, startStack } from "./_support.ts";
import { applyTierChanges } from "../_support/tier_outbox.ts";

/** Every row of every table in the schemas the product and its stand-ins write, as text. */
async function databaseDump(stack: Stack): Promise<string> {
  const tables = await stack.sql<{ name: string }[]>`
    select format('%I.%I', table_schema, table_name) as name from information_schema.tables
    where table_schema in ('public', 'private', 'net', 'auth') and table_type = 'BASE TABLE'`;
  const parts = await Promise.all(tables.map(async ({ name }) => {
    const [{ dump }] = await stack.sql.unsafe<{ dump: string | null }[]>(
      `select string_agg(to_jsonb(t)::text, E'\\n') as dump from ${name} t`,
    );
    return `${name}\n${dump ?? ""}`;
  }));
  assert(tables.some((t) => t.name === "public.user_fly_app_events"), "the dump covers the events");
  return parts.join("\n");
}

/**
 * A fresh free user upgraded to pro whose provision is in flight: its app exists and its machine create is
 * slowed down (600 ms), so the tier changes a test makes next find the row leased by that reconcile.
 */
async function upgradeInFlight(stack: Stack): Promise<string> {
  const [user] = await stack.newUsers(1);
  await stack.setTier(user, "free");
  stack.emulator.faults.add({ operation: "Machines_create", action: { type: "delay", ms: 600 }, times: 1 });
  await stack.sql`update public.user_subscriptions set tier = 'pro' where user_id = ${user}`;
  await waitFor("the provision to be in flight", async () => (await stack.appsOf(user)).length > 0);
  return user;
}

/** Event types of `events` after the last one of type `from` (inclusive). */
function typesFrom(events: { event_type: string }[], from: string): string[] {
  const start = events.findLastIndex((e) => e.event_type === from);
  assert(start >= 0, `no ${from} event in ${events.map((e) => e.event_type).join(", ")}`);
  return events.slice(start).map((e) => e.event_type);
}

Deno.test("provisioning lifecycle through trigger, pg_net worker, gateway, functions and emulator", async (t) => {
  const stack = await startStack();
  try {
    await t.step(
      "UPDATE tier='pro' provisions one started machine of the plan, with secrets that never leak",
      async () => {
        const [user] = await stack.newUsers(1);
        await stack.setTier(user, "free");
        assertEquals(await stack.row(user), undefined, "a free subscription has no app row");
        await stack.warmFunction("provision-user-fly-app");
        await stack.sql`update public.user_subscriptions set tier = 'pro' where user_id = ${user}`;

        const row = await stack.waitSettled(user);
        assertEquals(
          {
            status: row.status,
            desired_state: row.desired_state,
            region: row.region,
            cpu_kind: row.cpu_kind,
            cpu_count: row.cpu_count,
            memory_mb: row.memory_mb,
            health_status: row.health_status,
            retry_count: row.retry_count,
            error_message: row.error_message,
          },
          {
            status: "active",
            desired_state: "present",
            region: "sin",
            cpu_kind: "shared",
            cpu_count: 2,
            memory_mb: 512,
            health_status: "healthy",
            retry_count: 0,
            error_message: null,
          },
        );

        const apps = await stack.appsOf(user);
        assertEquals(apps.map((a) => a.name), [row.fly_app_name], "exactly one app, the recorded one");
        const [app] = apps;
        assertEquals(app.machines.length, 1, "exactly one machine was ever created");
        const [machine] = app.machines;
        const config = configOf(machine);
        assertEquals(machine.id, row.machine_id);
        assertEquals(machine.state, "started");
        assertEquals(machine.region, "sin");
        assertEquals(config.guest, { cpu_kind: "shared", cpus: 2, memory_mb: 512 });
        assertEquals(config.image, stack.services.functionEnv.FLY_APP_IMAGE);
        assertEquals(config.env, { USER_ID: user, RUN_MODE: "user_dedicated" });
        assertEquals(config.restart?.policy, "always");
        assertEquals(config.metadata?.managed_by, "fly-user-apps");
        assertEquals(config.metadata?.user_id, user);
        assertEquals(config.checks?.health?.path, "/health");
        // A shared IPv4 and a dedicated IPv6.
        assertEquals(app.ips.map((ip) => [ip.shared, String(ip.ip).includes(":")]), [[true, false], [
          false,
          true,
        ]]);

        // Secrets: set through the secrets API with the configured values, the version recorded on the row.
        assertEquals(
          Object.fromEntries(app.secrets.map((s) => [s.name, s.value])),
          { ...stack.secrets.byName },
        );
        assertEquals(app.secrets_version, row.secrets_version);
        assert(row.secrets_digest && !Object.values(stack.secrets.byName).includes(row.secrets_digest));

        // ... and nowhere else: database rows (every table), events, function logs, the machine's config.
        // (The outcome's log line follows its commit: wait for it.)
        await waitFor(
          "the function logs to cover this reconcile",
          () => stack.logs.some((l) => l.includes(user)),
        );
        assertAbsent(await databaseDump(stack), stack.secrets.sensitive, "the database");
        assertAbsent(stack.logs.join("\n"), stack.secrets.sensitive, "the function logs");
        assertAbsent(JSON.stringify(config), stack.secrets.sensitive, "the machine config");
        assertAbsent(stack.logs.join("\n"), [stack.services.provisionerSecret, stack.emulator.token], "logs");

        const events = await stack.events(user);
        assertEquals(events.map((e) => e.event_type), [
          "provision_requested",
          "provision_started",
          "app_created",
          "ip_assigned",
          "ip_assigned",
          "secrets_set",
          "machine_created",
          "health_changed",
          "provision_completed",
        ]);
        assertEquals(events.at(-2)?.metadata.to, "healthy");
        assertEquals(events[1].metadata.reason, "tier_changed", "the reconcile came from the trigger's kick");
        const requestId = (events[0].metadata.kick as { request_id: number }).request_id;
        const [response] = await stack
          .sql`select status_code from net._http_response where id = ${requestId}`;
        assertEquals(response?.status_code, 202, "the kick was answered 202 at once");
      },
    );

    await t.step(
      "pro -> free removes app and machine and marks the row deleted; free -> pro reuses the row",
      async () => {
        const [user] = await stack.newUsers(1);
        await stack.setTier(user, "pro");
        const active = await stack.waitSettled(user);
        assertEquals(active.status, "active");
        const appName = active.fly_app_name!;
        assertEquals((await stack.appsOf(user)).map((a) => a.name), [appName]);

        await stack.setTier(user, "free");
        const deleted = await stack.waitSettled(user);
        assertEquals(
          {
            id: deleted.id,
            status: deleted.status,
            desired_state: deleted.desired_state,
            machine_id: deleted.machine_id,
            deleted: deleted.deleted_at !== null,
          },
          { id: active.id, status: "deleted", desired_state: "absent", machine_id: null, deleted: true },
        );
        assertEquals(await stack.appsOf(user), [], "the app (and with it its machine) is gone from Fly");
        assertEquals(
          typesFrom(await stack.events(user), "deprovision_requested"),
          [
            "deprovision_requested",
            "deprovision_started",
            "machine_destroyed",
            "app_deleted",
            "deprovision_completed",
          ],
        );

        await stack.setTier(user, "pro");
        const again = await stack.waitSettled(user);
        assertEquals(again.id, active.id, "the same row is reactivated");
        assertEquals(again.status, "active");
        assertEquals(again.deleted_at, null);
        assertEquals(again.fly_app_name, appName, "the row keeps its recorded app name");
        const [{ rows }] = await stack
          .sql`select count(*)::int as rows from public.user_fly_apps where user_id = ${user}`;
        assertEquals(rows, 1);
        const apps = await stack.appsOf(user);
        assertEquals(apps.map((a) => a.name), [appName]);
        assertEquals(liveMachines(apps[0]).map((m) => [m.id, m.state]), [[again.machine_id, "started"]]);
        assert(again.machine_id !== active.machine_id, "a new machine in the recreated app");
      },
    );

    await t.step("rapid flips free -> pro -> free -> pro converge to one app and one machine", async () => {
      // The flips land while the first provision is in flight (its machine create is slowed down), so their
      // kicks find the row leased by that reconcile.
      const user = await upgradeInFlight(stack);
      for (const tier of ["free", "pro"] as const) {
        await stack.sql`update public.user_subscriptions set tier = ${tier} where user_id = ${user}`;
      }
      await stack.services.drainer!.drainNow();
      const row = await stack.waitSettled(user);
      // The drainer may collapse the two flips into one generation (it reads the current tier).
      assert(row.desired_generation >= 2, `generation ${row.desired_generation}`);
      assertEquals(row.observed_generation, row.desired_generation);
      assertEquals([row.status, row.desired_state], ["active", "present"]);
      const apps = await stack.appsOf(user);
      assertEquals(apps.map((a) => a.name), [row.fly_app_name]);
      assertEquals(apps[0].machines.map((m) => [m.id, m.state]), [[row.machine_id, "started"]]);
      assertEquals(stack.emulator.faults.list(), [], "the slowed-down create did happen");
    });

    await t.step(
      "a downgrade during the provision, its kick lost, leaves no app behind without a sweep",
      async () => {
        const user = await upgradeInFlight(stack);
        // The downgrade is drained but its kick is lost: only the reconcile in flight can notice the newer
        // generation.
        await stack.sql.begin(async (tx) => {
          await tx`update public.user_subscriptions set tier = 'free' where user_id = ${user}`;
          await applyTierChanges(tx);
        });
        const row = await stack.waitSettled(user);
        assertEquals([row.desired_generation, row.observed_generation], [2, 2]);
        assertEquals([row.status, row.desired_state, row.machine_id], ["deleted", "absent", null]);
        assertEquals(await stack.appsOf(user), [], "the app created meanwhile is gone again");
        stack.emulator.faults.clear();
      },
    );
  } finally {
    await stack.stop();
  }
});
