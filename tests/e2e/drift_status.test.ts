/**
 * End to end: the sweep records spec drift without applying it (a rollout does that), the status API shows
 * the image, its digest and the drift, every sweep run is stored, and a paid user without a row is shown as
 * wanting an app and out of sync.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { configOf, liveMachines, startStack } from "./_support.ts";

Deno.test("drift is recorded and shown, not applied; sweep runs are stored; a paid user without a row", async (t) => {
  const stack = await startStack();
  try {
    const [user] = await stack.newUsers(1);
    await stack.setTier(user, "pro");
    const settled = await stack.waitSettled(user);

    await t.step("a plan change made by SQL shows as drift and leaves the machine alone", async () => {
      await stack.sql`update public.fly_plans set memory_mb = 1024 where tier = 'pro'`;
      try {
        const report = await stack.sweep();
        assertEquals(report.observed.drifted, 1, JSON.stringify(report.observed));
        const [machine] = liveMachines((await stack.appsOf(user))[0]);
        assertEquals([machine.id, configOf(machine).guest?.memory_mb], [settled.machine_id, 512]);

        const status = await stack.call("provision-user-fly-app", {
          method: "GET",
          query: { user_id: user },
        });
        assertEquals(status.status, 200);
        assertEquals(status.body.in_sync, false);
        assertEquals(status.body.drift.guest.desired.memory_mb, 1024);
        assertEquals(status.body.drift.guest.observed.memory_mb, 512);
        assertEquals(status.body.image, configOf(machine).image);
        assert(String(status.body.image_digest).startsWith("sha256:"), status.body.image_digest);
        const events = await stack.events(user);
        const drift = events.filter((e) => e.event_type === "drift_detected").at(-1);
        assertEquals(drift?.metadata.fields, ["guest"]);
      } finally {
        await stack.sql`update public.fly_plans set memory_mb = 512 where tier = 'pro'`;
      }
      const resolved = await stack.sweep();
      assertEquals(resolved.observed.drifted, 0);
      const status = await stack.call("provision-user-fly-app", { method: "GET", query: { user_id: user } });
      assertEquals([status.body.in_sync, status.body.drift], [true, {}]);
    });

    await t.step(
      "every sweep run is stored with its report, and the health GET shows the last ones",
      async () => {
        const runs = await stack.sql<{ id: string; finished_at: Date | null; report: { run_id: number } }[]>`
        select id, finished_at, report from public.fly_sweep_runs order by id`;
        assert(runs.length >= 2, `${runs.length} runs stored`);
        assert(runs.every((run) => run.finished_at !== null && run.report.run_id === Number(run.id)));
        const health = await stack.call("check-fly-apps-health", { method: "GET" });
        assertEquals(health.status, 200);
        assertEquals(health.body.recent_runs[0].id, runs.at(-1)!.id);
      },
    );

    await t.step("a paid user who has no row yet: desired present, not in sync", async () => {
      const [unrowed] = await stack.newUsers(1);
      await stack.sql`alter table public.user_subscriptions disable trigger user`;
      try {
        await stack.sql`insert into public.user_subscriptions (user_id, tier) values (${unrowed}, 'elite')`;
      } finally {
        await stack.sql`alter table public.user_subscriptions enable trigger user`;
      }
      const status = await stack.call("provision-user-fly-app", {
        method: "GET",
        query: { user_id: unrowed },
      });
      assertEquals([status.body.desired_state, status.body.in_sync, status.body.status], [
        "present",
        false,
        "none",
      ]);
    });
  } finally {
    await stack.stop();
  }
});
