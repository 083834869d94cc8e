/**
 * End to end through the gateway: the `fly-apps-admin` routes on provisioned users. Reads (list with
 * filters, search and cursor paging, detail with live machines, events, summary, prices, usage, sweep runs),
 * actions with their actor events (hold/release, restart, retry, price change), orphans (a leftover deleted;
 * refused for a paid user and for a reconcile in flight), migration progress, and bad input or missing
 * credentials on every route: 4xx, nothing written.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { appNameCandidate } from "../../supabase/functions/_shared/engine/app_name.ts";
import { type Stack, startStack } from "./_support.ts";
import { admin, createFlyApp, recordSweepRun, snapshot } from "./admin_support.ts";

const UNKNOWN_USER = "00000000-0000-4000-8000-00000000abcd";

/** Provisions `count` pro users synchronously and returns their ids. */
async function provisioned(stack: Stack, count: number): Promise<string[]> {
  const users = await stack.newUsers(count);
  for (const user of users) {
    await stack.setTier(user, "pro");
    const answer = await stack.call("provision-user-fly-app", { wait: true, body: { user_id: user } });
    assertEquals(answer.status, 200, JSON.stringify(answer.body));
  }
  return users;
}

Deno.test("admin API: reads, actions with actors, orphans, bad input", async (t) => {
  // No pg_net worker: nothing reconciles behind the test's back.
  const stack = await startStack({ netWorker: false });
  try {
    const users = await provisioned(stack, 3);
    const [alice, bob, carol] = users;
    await stack.sql`update auth.users set email = 'alice@example.com' where id = ${alice}`;

    await t.step("list: filters, search, sort and cursor paging", async () => {
      const all = await admin(stack, "/apps", { query: { sort: "user_id", order: "asc", limit: "2" } });
      assertEquals(all.status, 200, JSON.stringify(all.body));
      assertEquals(all.body.apps.length, 2);
      assert(all.body.next_cursor, "a next page");
      const next = await admin(stack, "/apps", {
        query: { sort: "user_id", order: "asc", limit: "2", cursor: all.body.next_cursor },
      });
      assertEquals(next.body.apps.length, 1);
      assertEquals(next.body.next_cursor, null);
      const ids = [...all.body.apps, ...next.body.apps].map((a: { user_id: string }) => a.user_id);
      assertEquals(ids, [...users].sort());

      const byEmail = await admin(stack, "/apps", { query: { q: "ALICE@" } });
      assertEquals(byEmail.body.apps.map((a: { user_id: string }) => a.user_id), [alice]);
      const byName = await admin(stack, "/apps", { query: { q: (await stack.row(bob))!.fly_app_name! } });
      assertEquals(byName.body.apps.map((a: { user_id: string }) => a.user_id), [bob]);
      const active = await admin(stack, "/apps", { query: { status: "active", tier: "pro", region: "sin" } });
      assertEquals(active.body.apps.length, 3);
      const failed = await admin(stack, "/apps", { query: { status: "error" } });
      assertEquals(failed.body.apps.length, 0);
      assert(
        active.body.apps.every((a: { monthly_cost_estimate_usd: number }) => a.monthly_cost_estimate_usd > 0),
      );
    });

    await t.step("detail: row, plan, costs, why no deprovision, live machines from Fly", async () => {
      const detail = await admin(stack, `/apps/${alice}`, { query: { live: "true" } });
      assertEquals(detail.status, 200, JSON.stringify(detail.body));
      assertEquals(detail.body.tier, "pro");
      assertEquals(detail.body.app.email, "alice@example.com");
      assertEquals(detail.body.costs.plan_monthly_usd, 3.88);
      assertEquals(detail.body.actions.deprovision.offered, false);
      assert(detail.body.actions.deprovision.reason.includes("tier decides"));
      assertEquals(detail.body.live.machines.length, 1);
      assertEquals(detail.body.live.machines[0].id, (await stack.row(alice))!.machine_id);
      assertEquals(detail.body.live.machines[0].state, "started");
      const unknown = await admin(stack, `/apps/${UNKNOWN_USER}`);
      assertEquals(unknown.status, 404);
    });

    await t.step("events: one user's history paged; fleet-wide by type", async () => {
      const first = await admin(stack, `/apps/${alice}/events`, { query: { limit: "2" } });
      assertEquals(first.body.events.length, 2);
      const rest = await admin(stack, `/apps/${alice}/events`, {
        query: { limit: "1000", before: String(first.body.next_before) },
      });
      const all = (await stack.events(alice)).map((e) => e.seq).reverse();
      assertEquals([...first.body.events, ...rest.body.events].map((e: { seq: number }) => e.seq), all);
      const completed = await admin(stack, "/events", { query: { type: "provision_completed" } });
      assertEquals(completed.body.events.length, 3);
    });

    await t.step("hold and release: recorded with the actor, the row due", async () => {
      const held = await admin(stack, `/apps/${bob}/hold`, {
        method: "POST",
        actor: "ann",
        body: { reason: "abuse report" },
      });
      assertEquals(held.status, 200, JSON.stringify(held.body));
      assertEquals(held.body.held, true);
      const [row] = await stack
        .sql`select held_by, hold_reason from public.user_fly_apps where user_id = ${bob}`;
      assertEquals([row.held_by, row.hold_reason], ["claimed:ann", "abuse report"]);
      const listed = await admin(stack, "/apps", { query: { held: "true" } });
      assertEquals(listed.body.apps.map((a: { user_id: string }) => a.user_id), [bob]);
      const restart = await admin(stack, `/apps/${bob}/restart`, { method: "POST" });
      assertEquals(restart.status, 409, "no restart while held");
      const released = await admin(stack, `/apps/${bob}/release`, { method: "POST" });
      assertEquals(released.body.held, false);
      const events = (await stack.events(bob)).filter((e) => e.event_type.startsWith("hold_"));
      assertEquals(events.map((e) => [e.event_type, e.metadata.actor]), [
        ["hold_set", "claimed:ann"],
        ["hold_released", "ops"],
      ]);
    });

    await t.step("restart: the machine restarts on Fly; events name the actor", async () => {
      const restarted = await admin(stack, `/apps/${carol}/restart`, { method: "POST", actor: "bo" });
      assertEquals(restarted.status, 200, JSON.stringify(restarted.body));
      const counts = JSON.stringify(stack.emulator.requestCounts());
      assert(counts.includes("restart"), `Fly was asked to restart: ${counts}`);
      const events = (await stack.events(carol)).filter((e) => e.event_type.includes("restart"));
      assertEquals(events.map((e) => [e.event_type, e.metadata.actor]), [
        ["restart_requested", "claimed:bo"],
        ["machine_restarted", "claimed:bo"],
      ]);
    });

    await t.step("retry one user: reconciled now, event with the actor", async () => {
      await stack.sql`update public.user_fly_apps set status = 'error', error_message = 'bad token',
                      next_attempt_at = null where user_id = ${carol}`;
      const retried = await admin(stack, `/apps/${carol}/retry`, { method: "POST", actor: "cy" });
      assertEquals(retried.status, 200, JSON.stringify(retried.body));
      assertEquals(retried.body.reconcile.outcome, "converged");
      const row = await stack.row(carol);
      assertEquals([row!.status, row!.error_message], ["active", null]);
      const event = (await stack.events(carol)).find((e) => e.event_type === "retry_requested");
      assertEquals(event?.metadata.actor, "claimed:cy");
    });

    await t.step("orphans: listed from the last sweep run; deleted or refused", async () => {
      const leftover = await appNameCandidate(crypto.randomUUID(), 0, stack.naming);
      const inFlightUser = (await stack.newUsers(1))[0];
      await stack.setTier(inFlightUser, "pro");
      await stack.sql`update public.user_fly_apps set lease_owner = 'someone',
                      lease_expires_at = now() + interval '5 minutes' where user_id = ${inFlightUser}`;
      const inFlightApp = await appNameCandidate(inFlightUser, 0, stack.naming);
      const paidApp = (await stack.row(alice))!.fly_app_name!;
      const strayOfPaid = await appNameCandidate(alice, 3, stack.naming);
      await createFlyApp(stack, leftover);
      await createFlyApp(stack, inFlightApp);
      await createFlyApp(stack, strayOfPaid, { user_id: alice, managed_by: "fly-provisioner" });
      await recordSweepRun(stack, { orphans: { found: [leftover, inFlightApp, strayOfPaid], deleted: [] } });

      const listed = await admin(stack, "/orphans");
      assertEquals(listed.status, 200, JSON.stringify(listed.body));
      const byName = Object.fromEntries(
        listed.body.orphans.map((o: { name: string }) => [o.name, o]),
      );
      assertEquals(Object.keys(byName).sort(), [leftover, inFlightApp, strayOfPaid].sort());
      assertEquals(byName[inFlightApp].in_flight, true);

      for (
        const [name, why] of [[paidApp, "belongs to user"], [strayOfPaid, "paid user"], [
          inFlightApp,
          "in flight",
        ]]
      ) {
        const refused = await admin(stack, `/orphans/${name}`, { method: "DELETE" });
        assertEquals(refused.status, 409, `${name}: ${JSON.stringify(refused.body)}`);
        assert(refused.body.error.message.includes(why), refused.body.error.message);
      }
      assert(stack.emulator.state().apps.some((a) => a.name === paidApp), "the paid user's app stays");
      const deleted = await admin(stack, `/orphans/${leftover}`, { method: "DELETE", actor: "ann" });
      assertEquals(deleted.status, 200, JSON.stringify(deleted.body));
      assert(!stack.emulator.state().apps.some((a) => a.name === leftover), "the leftover is gone");
      const again = await admin(stack, `/orphans/${leftover}`, { method: "DELETE" });
      assertEquals(again.status, 404);
      await stack.sql`update public.user_fly_apps set lease_owner = null, lease_expires_at = null
                      where user_id = ${inFlightUser}`;
    });

    await t.step("costs: prices, a price change re-estimates, usage per user and plan", async () => {
      const prices = await admin(stack, "/prices");
      assertEquals(prices.body.prices.length, 7, "five running prices, rootfs_gb and snapshot_gb");
      const changed = await admin(stack, "/prices/cpu_shared", {
        method: "PUT",
        actor: "ann",
        body: { monthly_usd: 3 },
      });
      assertEquals(changed.status, 200, JSON.stringify(changed.body));
      const detail = await admin(stack, `/apps/${alice}`);
      assertEquals(detail.body.costs.plan_monthly_usd, 6);
      assertEquals(detail.body.app.monthly_cost_estimate_usd, 6);

      const machine = (await stack.row(alice))!.machine_id!;
      const now = Date.now();
      const observations = [0, 60, 120].map((s) => ({
        user_id: alice,
        machine_id: machine,
        state: "started",
        observed_at: new Date(now - 180_000 + s * 1000).toISOString(),
      }));
      await stack.sql`select private.record_machine_observations(${stack.sql.json(observations)})`;
      const usage = await admin(stack, "/usage");
      assertEquals(usage.status, 200, JSON.stringify(usage.body));
      const aliceUsage = usage.body.users.find((u: { user_id: string }) => u.user_id === alice);
      assertEquals(
        [aliceUsage.running_seconds, aliceUsage.running_hours],
        [120, 0.03],
        JSON.stringify(aliceUsage),
      );
      assertEquals(
        usage.body.plans.find((p: { tier: string }) => p.tier === "pro").users,
        4,
        "3 active and 1 pending",
      );
      const empty = await admin(stack, "/usage", { query: { month: "2020-01" } });
      assertEquals(empty.body.totals.running_hours, 0);
    });

    await t.step("summary, sweep runs and migration progress", async () => {
      const summary = await admin(stack, "/summary");
      assertEquals(summary.body.total, 4);
      assertEquals(summary.body.active, 3);
      await stack.sql`update public.user_fly_apps set drift = '{"image": "test"}'::jsonb
        where id = (select id from public.user_fly_apps order by id limit 1)`;
      assertEquals((await admin(stack, "/summary")).body.drifted, 1, "one row with recorded drift");
      await stack.sql`update public.user_fly_apps set drift = '{}'::jsonb`;
      const runs = await admin(stack, "/sweep-runs");
      assertEquals(runs.body.runs.length, 1);
      const progress = await admin(stack, "/migrate");
      assertEquals(progress.body.paid_users, 4);
      assertEquals(progress.body.active, 3);
    });

    await t.step(
      "bad input or no credentials on every route: 4xx naming the field, nothing written",
      async () => {
        const before = await snapshot(stack);
        const bad: [string, Parameters<typeof admin>[2], number, string?][] = [
          ["/apps", { query: { status: "bogus" } }, 400, "status"],
          ["/apps", { query: { tier: "platinum" } }, 400, "tier"],
          ["/apps", { query: { limit: "0" } }, 400, "limit"],
          ["/apps", { query: { sort: "tier" } }, 400, "sort"],
          ["/apps", { query: { cursor: "not-a-cursor" } }, 400, "cursor"],
          ["/apps", { query: { drift: "maybe" } }, 400, "drift"],
          ["/apps/not-a-uuid", {}, 400, "user_id"],
          [`/apps/${alice}`, { query: { live: "yes" } }, 400, "live"],
          [`/apps/${alice}/events`, { query: { before: "-1" } }, 400, "before"],
          ["/events", { query: { type: "Bad Type" } }, 400, "type"],
          ["/events", { query: { status: "fine" } }, 400, "status"],
          ["/sweep-runs", { query: { limit: "100000" } }, 400, "limit"],
          ["/usage", { query: { month: "2026-13" } }, 400, "month"],
          [`/apps/${alice}/retry`, { method: "POST", body: { reason: 5 } }, 400, "reason"],
          ["/apps/x/retry", { method: "POST" }, 400, "user_id"],
          [`/apps/${UNKNOWN_USER}/retry`, { method: "POST" }, 404],
          ["/retry", { method: "POST", body: {} }, 400, "statuses"],
          ["/retry", { method: "POST", body: { statuses: ["active"] } }, 400, "statuses.0"],
          ["/retry", { method: "POST", body: { statuses: ["error"], limit: 0 } }, 400, "limit"],
          ["/retry", { method: "POST", rawBody: "{not json" }, 400, "body"],
          [`/apps/${alice}/hold`, { method: "POST", body: [] }, 400, "body"],
          [`/apps/${alice}/hold`, { method: "POST", actor: "bad actor!" }, 400, "X-Actor"],
          [`/apps/${UNKNOWN_USER}/hold`, { method: "POST" }, 404],
          [`/apps/${UNKNOWN_USER}/release`, { method: "POST" }, 404],
          [`/apps/${UNKNOWN_USER}/restart`, { method: "POST" }, 404],
          ["/orphans/Not_An_App", { method: "DELETE" }, 400, "name"],
          ["/prices/gpu", { method: "PUT", body: { monthly_usd: 1 } }, 400, "item"],
          ["/prices/cpu_shared", { method: "PUT", body: { monthly_usd: -1 } }, 400, "monthly_usd"],
          ["/prices/cpu_shared", { method: "PUT", body: {} }, 400, "monthly_usd"],
          ["/migrate", { method: "POST", body: { batch: "ten" } }, 400, "batch"],
          ["/migrate", { method: "POST", body: { batch: 0 } }, 400, "batch"],
          ["/sweep-runs", { query: { limit: "-5" } }, 400, "limit"],
          // A field a route does not know is refused by name, never ignored.
          ["/migrate", { method: "POST", body: { batch: 5, a: 1 } }, 400, "a"],
          [`/apps/${alice}/retry`, { method: "POST", body: { reason: "r", force: true } }, 400, "force"],
          ["/retry", { method: "POST", body: { statuses: ["error"], limits: 5 } }, 400, "limits"],
          [`/apps/${alice}/hold`, { method: "POST", body: { held: false } }, 400, "held"],
          [`/apps/${alice}/release`, { method: "POST", body: { why: "x" } }, 400, "why"],
          [`/apps/${alice}/restart`, { method: "POST", body: { now: true } }, 400, "now"],
          [
            "/prices/cpu_shared",
            { method: "PUT", body: { monthly_usd: 1, currency: "eur" } },
            400,
            "currency",
          ],
          [
            "/rollouts",
            { method: "POST", body: { image: "registry.fly.io/a:b", canaries: 1 } },
            400,
            "canaries",
          ],
          [`/rollouts/${UNKNOWN_USER}/pause`, { method: "POST", body: { reason: "r", x: 1 } }, 400, "x"],
          ["/apps", { query: { stauts: "active" } }, 400, "stauts"],
          [`/apps/${alice}`, { query: { live: "true", deep: "1" } }, 400, "deep"],
          [`/apps/${alice}/events`, { query: { after: "1" } }, 400, "after"],
          ["/events", { query: { kind: "x" } }, 400, "kind"],
          ["/sweep-runs", { query: { offset: "1" } }, 400, "offset"],
          ["/usage", { query: { year: "2026" } }, 400, "year"],
          ["/rollouts", { query: { state: "running" } }, 400, "state"],
          ["/nowhere", {}, 404],
          ["/apps", { method: "DELETE" }, 405],
        ];
        for (const [path, options, status, field] of bad) {
          const answer = await admin(stack, path, options);
          const detail = `${options?.method ?? "GET"} ${path} ${JSON.stringify(options)}: ${answer.status} ${
            JSON.stringify(answer.body)
          }`;
          assertEquals(answer.status, status, detail);
          assert(typeof answer.body.error?.message === "string", detail);
          if (field) assertEquals(answer.body.error.field, field, detail);
        }
        const routes: [string, "GET" | "POST" | "PUT" | "DELETE"][] = [
          ["/apps", "GET"],
          [`/apps/${alice}`, "GET"],
          [`/apps/${alice}/events`, "GET"],
          ["/events", "GET"],
          ["/summary", "GET"],
          [`/apps/${alice}/retry`, "POST"],
          ["/retry", "POST"],
          [`/apps/${alice}/hold`, "POST"],
          [`/apps/${alice}/release`, "POST"],
          [`/apps/${alice}/restart`, "POST"],
          ["/orphans", "GET"],
          ["/orphans/vyx-user-000000000000", "DELETE"],
          ["/prices", "GET"],
          ["/prices/cpu_shared", "PUT"],
          ["/usage", "GET"],
          ["/sweep-runs", "GET"],
          ["/migrate", "GET"],
          ["/migrate", "POST"],
          ["/doctor", "GET"],
        ];
        // A body that is not declared JSON is refused on every route that takes one, even a valid one.
        const bodies: [string, "POST" | "PUT", unknown][] = [
          ...routes.filter(([, method]) => method === "POST" || method === "PUT")
            .map(([path, method]) => [path, method, {}] as [string, "POST" | "PUT", unknown]),
          ["/migrate", "POST", { batch: 1 }],
          ["/rollouts", "POST", { image: "registry.fly.io/evil:latest", canary: 1 }],
          [`/rollouts/${UNKNOWN_USER}/abort`, "POST", {}],
        ];
        for (const [path, method, body] of bodies) {
          for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
            const answer = await admin(stack, path, {
              method,
              headers: { ...stack.auth, "content-type": type },
              body,
            });
            const detail = `${method} ${path} as ${type}: ${answer.status} ${JSON.stringify(answer.body)}`;
            assertEquals([answer.status, answer.body.error?.code], [415, "unsupported_media_type"], detail);
          }
        }
        for (const [path, method] of routes) {
          const answer = await admin(stack, path, {
            method,
            headers: { "content-type": "application/json" },
            body: { statuses: ["error"], monthly_usd: 1 },
          });
          assertEquals(answer.status, 401, `${method} ${path} without the secret: ${answer.status}`);
        }
        assertEquals(await snapshot(stack), before, "nothing changed");
      },
    );
  } finally {
    await stack.stop();
  }
});
