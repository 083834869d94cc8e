/**
 * End to end through the gateway: `ops plan-idle` refuses `suspend` for a plan over Fly's limit (400 with the
 * reason, nothing written) and sets `stop`; the user's machine then idles on its own behind the emulator's
 * proxy, the sweeps record it `idle` without repairing it, `show`, `status`, `summary` and `usage` say so, and a
 * request through the proxy wakes it.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { waitFor } from "../_support/wait.ts";
import { admin, snapshot } from "./admin_support.ts";
import { configOf, liveMachines, startStack } from "./_support.ts";
import { ops } from "./admin_cli_support.ts";

Deno.test({
  name: "idle machines end to end: plan-idle, idle after the window, not repaired, shown, woken by a request",
  async fn() {
    const stack = await startStack({
      netWorker: false,
      emulator: { proxy: { idleWindowMs: 400, passIntervalMs: 50 } },
    });
    try {
      // suspend on a 4 GB plan: 400 naming the limit, nothing written.
      await stack.sql`update public.fly_plans set memory_mb = 4096 where tier = 'elite'`;
      const before = await snapshot(stack);
      const refused = await admin(stack, "/plans/elite/idle-action", {
        method: "PUT",
        body: { idle_action: "suspend" },
        actor: "ann",
      });
      assertEquals(refused.status, 400, JSON.stringify(refused.body));
      assert(refused.body.error.message.includes("at most 2048 MB"), refused.body.error.message);
      assertEquals(refused.body.error.field, "idle_action");
      assertEquals(await snapshot(stack), before, "nothing written");
      const unknown = await admin(stack, "/plans/free/idle-action", {
        method: "PUT",
        body: { idle_action: "stop" },
      });
      assertEquals(unknown.status, 404, "free has no dedicated app");

      const set = await ops(stack, [
        "--actor",
        "ann",
        "plan-idle",
        "pro",
        "stop",
        "--reason",
        "scale to zero",
      ]);
      assertEquals(set.code, 0, set.err);
      assert(set.out.includes("pro: idle_action off -> stop (0 machines due for a reconcile)"), set.out);

      const [user] = await stack.newUsers(1);
      await stack.setTier(user, "pro");
      const provisioned = await stack.call("provision-user-fly-app", { wait: true, body: { user_id: user } });
      assertEquals(provisioned.status, 200, JSON.stringify(provisioned.body));
      const state = async () => liveMachines((await stack.appsOf(user))[0]).map((m) => m.state);
      await waitFor(
        "the proxy to stop the idle machine",
        async () => (await state())[0] === "stopped",
        10_000,
      );

      for (const round of [1, 2, 3]) {
        const report = await stack.sweep();
        assertEquals(report.observed.repaired, 0, `sweep ${round} repaired nothing`);
        assertEquals(await state(), ["stopped"], `still stopped after sweep ${round}`);
      }
      const events = await stack.sql`select event_type from public.user_fly_app_events
        where user_id = ${user} and event_type in ('repaired', 'alert_raised')`;
      assertEquals(events.length, 0, "no repair, no alert");

      const show = await ops(stack, ["show", user]);
      assertEquals(show.code, 0, show.err);
      assert(/health\s+idle/.test(show.out), show.out);
      assert(/idle since\s+\d{4}-/.test(show.out), show.out);
      const status = await stack.call("provision-user-fly-app", { method: "GET", query: { user_id: user } });
      assert(typeof status.body.idle_since === "string", JSON.stringify(status.body));
      const summary = await admin(stack, "/summary");
      assertEquals([summary.body.idle, summary.body.unhealthy], [1, 0]);
      const usage = await admin(stack, "/usage");
      const pro = usage.body.plans.find((p: { tier: string }) => p.tier === "pro");
      assertEquals(pro.idle_action, "stop");
      assert(pro.running_share >= 0 && pro.running_share <= 1, JSON.stringify(pro));
      assert(pro.always_on_usd >= pro.observed_usd, JSON.stringify(pro));

      const row = (await stack.row(user))!;
      const answer = await fetch(`${stack.emulator.proxyUrl(row.fly_app_name!)}/`);
      assertEquals(answer.status, 200);
      assertEquals((await answer.json()).woke_from, "stopped");

      // A change of the plan's idle action makes its machines due; the sweep's reconcile applies it.
      const toSuspend = await ops(stack, ["--actor", "bo", "plan-idle", "pro", "suspend"]);
      assertEquals(toSuspend.code, 0, toSuspend.err);
      assert(toSuspend.out.includes("stop -> suspend (1 machines due"), toSuspend.out);
      const [retry] = await stack.sql`select metadata from public.user_fly_app_events
        where user_id = ${user} and event_type = 'retry_requested' order by seq desc limit 1`;
      assertEquals([retry.metadata.actor, retry.metadata.plan.idle_action.to], ["claimed:bo", "suspend"]);
      await stack.sweep();
      const service = configOf(liveMachines((await stack.appsOf(user))[0])[0]).services![0];
      assertEquals(service.autostop, "suspend");
    } finally {
      await stack.stop();
    }
  },
});
