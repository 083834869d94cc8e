/**
 * End to end, the acceptance of issue 26 (security) through the gateway, the database and the emulator:
 *
 * - the kick secret, as read from pg_net's request queue, opens no `fly-apps-admin` route (every one answers
 *   403 and nothing changes), nor `?wait=true` nor GET, while kicks and sweeps with it still work;
 * - a rollout to an image outside FLY_IMAGE_ALLOWED is a 400 and no machine changes;
 * - squatting the five names computable from a user id (and even the five keyed ones) does not block the user;
 * - every user app gets its own private network, and two users' machines cannot reach each other;
 * - two `provision?wait=true` with the same X-Request-Id leave one machine;
 * - 50 concurrent sweep calls run one sweep at a time, with no 429 from Fly.
 */
import { createHash } from "node:crypto";
import { assert, assertEquals } from "../_support/assert.ts";
import { waitFor } from "../_support/wait.ts";
import { adminRoutes } from "../../supabase/functions/_shared/admin/app.ts";
import { appNameCandidate } from "../../supabase/functions/_shared/engine/app_name.ts";
import { liveMachines, type Stack, startStack } from "./_support.ts";
import { admin, createFlyApp, snapshot } from "./admin_support.ts";

/** Every route of the admin API as `[method, path]`, with its parameters filled in. */
function adminRouteList(userId: string): [string, string][] {
  const seen = new Set<string>();
  const list: [string, string][] = [];
  for (const route of adminRoutes.routes) {
    if (!["GET", "POST", "PUT", "DELETE", "PATCH"].includes(route.method)) continue;
    const path = route.path.replace(/:user_id/g, userId).replace(/:id/g, crypto.randomUUID())
      .replace(/:[a-z_]+/g, "x");
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    list.push([route.method, path]);
  }
  return list;
}

/** Provisions `count` pro users synchronously (admin secret) and returns their ids. */
async function provisioned(stack: Stack, count: number): Promise<string[]> {
  const users = await stack.newUsers(count);
  for (const user of users) {
    await stack.setTier(user, "pro");
    const answer = await stack.call("provision-user-fly-app", { wait: true, body: { user_id: user } });
    assertEquals(answer.status, 200, JSON.stringify(answer.body));
  }
  return users;
}

Deno.test("security: secrets by purpose, allowed images, unsquattable names, networks, leases, one sweep", async (t) => {
  // No pg_net worker: nothing reconciles behind the test's back, and queued kicks stay readable.
  const stack = await startStack({ netWorker: false });
  try {
    const [alice, bob] = await provisioned(stack, 2);

    await t.step(
      "the kick secret read from net.http_request_queue opens no admin route and no ops action",
      async () => {
        await stack.sql`select private.post_to_function('check-fly-apps-health', '{}'::jsonb, 5000)`;
        const [queued] = await stack.sql<{ authorization: string }[]>`
        select headers ->> 'Authorization' as authorization from net.http_request_queue order by id desc limit 1`;
        const stolen = queued.authorization;
        assertEquals(
          stolen,
          `Bearer ${stack.services.kickSecret}`,
          "the database holds the kick secret only",
        );
        assert(!stolen.includes(stack.services.provisionerSecret));
        const headers = { Authorization: stolen };

        const before = await snapshot(stack);
        const routes = adminRouteList(alice);
        assert(routes.length >= 20, `every admin route enumerated: ${routes.length}`);
        for (const [method, path] of routes) {
          const answer = await admin(stack, path, {
            method: method as "GET",
            headers,
            body: { image: "attacker.example.net/steal:latest", canary: 1 },
            actor: "mallory",
          });
          assertEquals(answer.status, 403, `${method} ${path}: ${JSON.stringify(answer.body)}`);
        }
        for (const fn of ["provision-user-fly-app", "deprovision-user-fly-app"] as const) {
          const waited = await stack.call(fn, { wait: true, headers, body: { user_id: alice } });
          assertEquals(waited.status, 403, `${fn}?wait=true`);
          const read = await stack.call(fn, { method: "GET", headers, query: { user_id: alice } });
          assertEquals(read.status, 403, `GET ${fn}`);
        }
        const sweepWait = await stack.call("check-fly-apps-health", { wait: true, headers, body: {} });
        assertEquals(sweepWait.status, 403, "a synchronous sweep needs the admin secret");
        assertEquals(await snapshot(stack), before, "nothing changed");

        // What the kick secret is for still works: a background reconcile of a user, and a sweep.
        const [carol] = await stack.newUsers(1);
        await stack.setTier(carol, "pro");
        const kicked = await stack.call("provision-user-fly-app", { headers, body: { user_id: carol } });
        assertEquals(kicked.status, 202, JSON.stringify(kicked.body));
        const row = await stack.waitSettled(carol);
        assertEquals(row.status, "active");
        const sweep = await stack.call("check-fly-apps-health", { headers, body: {} });
        assertEquals(sweep.status, 202, JSON.stringify(sweep.body));
        await waitFor("the kicked sweep to finish", async () => {
          const [run] = await stack
            .sql`select finished_at from public.fly_sweep_runs order by id desc limit 1`;
          return run?.finished_at !== null && run !== undefined;
        });
      },
    );

    await t.step(
      "a rollout to an image outside FLY_IMAGE_ALLOWED is a 400 and no machine changes",
      async () => {
        const machinesBefore = JSON.stringify(stack.emulator.state().apps.map((a) => a.machines));
        const before = await snapshot(stack);
        for (
          const image of ["attacker.example.net/x:latest", "registry.fly.io/vyx-user-backend-evil:latest"]
        ) {
          const answer = await admin(stack, "/rollouts", {
            method: "POST",
            body: { image, canary: 1 },
            actor: "eve",
          });
          assertEquals(answer.status, 400, JSON.stringify(answer.body));
          assertEquals(answer.body.error.field, "image");
        }
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        assertEquals(await snapshot(stack), before, "no rollout, no event, no Fly write");
        assertEquals(JSON.stringify(stack.emulator.state().apps.map((a) => a.machines)), machinesBefore);
        // The same call with an allowed image is accepted (the refusal is about the image, nothing else).
        const allowed = await admin(stack, "/rollouts", {
          method: "POST",
          body: { image: "registry.fly.io/vyx-user-backend:v2", canary: 1 },
          actor: "eve",
        });
        assertEquals(allowed.status, 201, JSON.stringify(allowed.body));
        await admin(stack, `/rollouts/${allowed.body.rollout.id}/abort`, {
          method: "POST",
          body: {},
          actor: "eve",
        });
      },
    );

    await t.step(
      "each user app has its own private network; two users' machines cannot reach each other",
      async () => {
        const state = stack.emulator.state();
        const appA = (await stack.appsOf(alice))[0];
        const appB = (await stack.appsOf(bob))[0];
        assertEquals(
          [appA.network, appB.network],
          [appA.name, appB.name],
          "each app on the network named after it",
        );
        for (const app of [appA, appB]) {
          const network = state.networks.find((n) => n.name === app.name);
          assertEquals(network?.apps, [app.name], `${app.name} is alone on its network`);
        }
        const [machineA] = liveMachines(appA);
        const [machineB] = liveMachines(appB);
        assert(machineA.private_ip !== undefined && machineB.private_ip !== undefined);
        assertEquals(stack.emulator.reachable(machineA.id, machineB.private_ip!), false, "A cannot reach B");
        assertEquals(stack.emulator.reachable(machineB.id, machineA.private_ip!), false, "B cannot reach A");
        assertEquals(
          stack.emulator.reachable(machineA.id, machineA.private_ip!),
          true,
          "A reaches its own address",
        );
        // Two apps on the org's default network (how apps were created before) do reach each other.
        await createFlyApp(stack, "legacy-shared-a", { user_id: crypto.randomUUID() });
        await createFlyApp(stack, "legacy-shared-b", { user_id: crypto.randomUUID() });
        const legacy = stack.emulator.state().apps.filter((a) => a.name.startsWith("legacy-shared-"));
        assertEquals(legacy.map((a) => a.network), ["default", "default"]);
        assert(stack.emulator.reachable(legacy[0].machines[0].id, legacy[1].machines[0].private_ip!));
      },
    );

    await t.step("squatting the five names computable from a user id does not block the user", async () => {
      const [dave] = await stack.newUsers(1);
      const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
      const computable = [dave, ...[1, 2, 3, 4].map((k) => `${dave}:${k}`)].map((text) =>
        `vyx-user-${sha256(text).slice(0, 12)}`
      );
      // Worse than an outsider can do: the five keyed candidates are taken too.
      const keyed = await Promise.all([0, 1, 2, 3, 4].map((i) => appNameCandidate(dave, i, stack.naming)));
      stack.emulator.setReservedNames([...computable, ...keyed]);
      await stack.setTier(dave, "pro");
      const answer = await stack.call("provision-user-fly-app", { wait: true, body: { user_id: dave } });
      assertEquals(answer.status, 200, JSON.stringify(answer.body));
      const row = (await stack.row(dave))!;
      assertEquals(row.status, "active");
      assert(
        row.fly_app_name && ![...computable, ...keyed].includes(row.fly_app_name),
        row.fly_app_name ?? "",
      );
      assert(/^vyx-user-[0-9a-f]{12}$/.test(row.fly_app_name), "a random name of the managed shape");
      const taken = (await stack.events(dave)).filter((e) => e.event_type === "app_name_taken");
      assertEquals(taken.length, 5, "each taken keyed name is a warning event");
      stack.emulator.setReservedNames([]);
    });

    await t.step("two provision?wait=true with the same X-Request-Id leave one machine", async () => {
      const [erin] = await stack.newUsers(1);
      await stack.setTier(erin, "pro");
      stack.emulator.faults.add({ operation: "Machines_create", action: { type: "delay", ms: 8_000 } });
      try {
        const headers = { ...stack.auth, "x-request-id": "replayed-request-id" };
        const first = stack.call("provision-user-fly-app", { wait: true, headers, body: { user_id: erin } });
        // The first attempt holds the lease (its machine create is slow) when the replay arrives.
        await waitFor(
          "the first attempt to hold the lease",
          async () => (await stack.row(erin))?.lease_owner,
        );
        const second = await stack.call("provision-user-fly-app", {
          wait: true,
          headers,
          body: { user_id: erin },
        });
        // The replay is another attempt: it waits for the first attempt's lease (the same request id as owner
        // used to let both hold it and create a machine each), then reconciles a user that has its machine.
        assertEquals((await first).status, 200);
        assert([200, 409].includes(second.status), JSON.stringify(second.body));
      } finally {
        stack.emulator.faults.clear();
      }
      const apps = await stack.appsOf(erin);
      assertEquals(apps.length, 1);
      assertEquals(liveMachines(apps[0]).length, 1, "one machine");
    });

    await t.step("50 concurrent sweep calls run one sweep at a time, with no 429", async () => {
      const before = stack.emulator.requestCounts();
      const [{ last }] = await stack.sql<{ last: number }[]>`
        select coalesce(max(id), 0)::int as last from public.fly_sweep_runs`;
      const headers = { Authorization: `Bearer ${stack.services.kickSecret}` };
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => stack.call("check-fly-apps-health", { headers, body: {} })),
      );
      assertEquals(
        answers.filter((a) => a.status !== 202).map((a) => a.status),
        [],
        "every call is answered 202",
      );
      const started = answers.filter((a) => (a.body as { accepted?: boolean }).accepted === true).length;
      const joined = answers.filter((a) => (a.body as { joined?: boolean }).joined === true).length;
      assertEquals(started + joined, 50);
      assert(started >= 1, "at least one sweep ran");
      const runs = await waitFor("the sweeps to finish", async () => {
        const rows = await stack.sql<{ started_at: Date; finished_at: Date | null }[]>`
          select started_at, finished_at from public.fly_sweep_runs where id > ${last} order by id`;
        return rows.length === started && rows.every((r) => r.finished_at !== null) && rows;
      }, 60_000);
      for (let i = 1; i < runs.length; i++) {
        assert(runs[i].started_at >= runs[i - 1].finished_at!, "sweep runs never overlap");
      }
      const after = stack.emulator.requestCounts();
      const new429 = Object.entries(after).reduce(
        (sum, [operation, counts]) => sum + (counts["429"] ?? 0) - (before[operation]?.["429"] ?? 0),
        0,
      );
      assertEquals(new429, 0, "no 429 from Fly");
      console.log(`BENCH security_sweeps calls=50 sweeps=${started} joined=${joined} fly_429=${new429}`);
    });

    await t.step(
      "an app of a user on the org's shared network is reported by the sweep as network drift",
      async () => {
        const [frank] = await provisioned(stack, 1);
        const own = (await stack.row(frank))!.fly_app_name!;
        // An app as they were created before: no network of its own. The row points at it, as after an upgrade.
        await createFlyApp(stack, "vyx-user-0ld5ha4ed0ne", { user_id: frank });
        await stack
          .sql`update public.user_fly_apps set fly_app_name = 'vyx-user-0ld5ha4ed0ne' where user_id = ${frank}`;
        const report = await stack.sweep({ limit: 1, detail_limit: 0 });
        const shared = report.orphans.shared_network ?? [];
        assertEquals(shared, ["vyx-user-0ld5ha4ed0ne"], "only the app not on its own network");
        assert(!shared.includes(own));
      },
    );
  } finally {
    await stack.stop();
  }
});
