/**
 * End to end: `ops override` pins one user's size and region over their plan, applied at once through the
 * controller (`plan_applied`), shown by `show`, `list --overridden` and `status`, with the cost of the
 * effective size; bad values are a 400 naming the problem and write nothing; `--clear` returns the user to
 * the plan at once.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { admin } from "./admin_support.ts";
import { liveMachines, startStack } from "./_support.ts";
import { ops } from "./admin_cli_support.ts";

Deno.test({
  name: "an ops override applies at once, is shown everywhere, refuses bad values and clears",
  async fn() {
    const stack = await startStack({ netWorker: false });
    try {
      const [user, other] = await stack.newUsers(2);
      await stack.setTier(user, "pro");
      await stack.setTier(other, "pro");
      for (const u of [user, other]) {
        const answer = await stack.call("provision-user-fly-app", { wait: true, body: { user_id: u } });
        assertEquals(answer.status, 200, JSON.stringify(answer.body));
      }
      const machine = async () => {
        const [app] = await stack.appsOf(user);
        const [m] = liveMachines(app);
        return { guest: (m.config as { guest: unknown }).guest, region: m.region, state: m.state };
      };
      const [{ cost: planCost }] = await stack.sql`
        select monthly_cost_estimate_usd::float8 as cost from public.user_fly_apps where user_id = ${user}`;

      // Bad values: 400 naming the problem, nothing written.
      for (
        const [body, problem] of [
          [{ cpus: 3 }, "cpus"],
          [{ memory_mb: 100 }, "memory_mb"],
          [{ cpu_kind: "performance" }, "take 4096..16384 MB"],
          [{ region: "Amsterdam" }, "region"],
          [{ image: "not an image" }, "image"],
          [{ reason: "nothing to set" }, "at least one"],
          [{ cpus: 2, colour: "red" }, "colour"],
        ] as const
      ) {
        const refused = await admin(stack, `/apps/${user}/override`, { method: "PUT", body, actor: "ann" });
        assertEquals(refused.status, 400, JSON.stringify(body));
        assert(
          JSON.stringify(refused.body).includes(problem),
          `${JSON.stringify(refused.body)} names ${problem}`,
        );
      }
      const [{ count }] = await stack.sql`select count(*)::int from public.user_fly_app_overrides`;
      assertEquals(count, 0, "nothing written");

      const set = await ops(stack, [
        "--actor",
        "ann",
        "override",
        user,
        "--cpu-kind",
        "shared",
        "--cpus",
        "4",
        "--memory-mb",
        "2048",
        "--region",
        "ams",
        "--reason",
        "ticket 4711",
      ]);
      assertEquals(set.code, 0, set.err);
      assertEquals(await machine(), {
        guest: { cpu_kind: "shared", cpus: 4, memory_mb: 2048 },
        region: "ams",
        state: "started",
      });
      const events = await stack.events(user);
      const stored = events.find((e) => e.event_type === "override_set");
      assertEquals([stored?.metadata.actor, stored?.metadata.reason], ["claimed:ann", "ticket 4711"]);
      assertEquals(events.filter((e) => e.event_type === "plan_applied").length, 1);
      const [{ cost }] = await stack.sql`
        select monthly_cost_estimate_usd::float8 as cost from public.user_fly_apps where user_id = ${user}`;
      assert(
        cost > planCost,
        `the estimate (${cost}) uses the effective size, more than the plan's (${planCost})`,
      );

      const listed = await ops(stack, ["list", "--overridden", "--json"]);
      assertEquals(listed.code, 0, listed.err);
      assertEquals(JSON.parse(listed.out).apps.map((a: { user_id: string }) => a.user_id), [user]);
      const shown = await ops(stack, ["show", user]);
      assert(
        /override\s+cpu_kind=shared cpus=4 memory_mb=2048 region=ams by claimed:ann \(ticket 4711\)/.test(
          shown.out,
        ),
        shown.out,
      );
      const status = await ops(stack, ["status", user, "--json"]);
      assertEquals(JSON.parse(status.out).override?.region, "ams", status.out);

      const cleared = await ops(stack, ["--actor", "ann", "override", user, "--clear", "--reason", "done"]);
      assertEquals(cleared.code, 0, cleared.err);
      assertEquals(await machine(), {
        guest: { cpu_kind: "shared", cpus: 2, memory_mb: 512 },
        region: "sin",
        state: "started",
      });
      const usage = await ops(stack, ["override", user]);
      assertEquals(usage.code, 2, "neither fields nor --clear is a usage error");
    } finally {
      await stack.stop();
    }
  },
});
