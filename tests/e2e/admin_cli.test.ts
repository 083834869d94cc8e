/**
 * End to end: the ops CLI against the local stack. `migrate` provisions paid users who have no app (as
 * the seed system's existing Pro users: subscriptions written before the trigger existed) with a progress
 * line and no failures, and a second run finds nothing left; then the read commands (list, show, events,
 * summary, usage as CSV, orphans, sweep-runs) and hold/release answer with what the database holds.
 *
 * MIGRATE_E2E_USERS paid users (default 8: app creates are limited to 1/s with bursts of 3, so 30 users take
 * half a minute of the suite; raise it for a longer run).
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { startStack } from "./_support.ts";
import { ops } from "./admin_cli_support.ts";

const PAID_USERS = Math.max(2, Number(Deno.env.get("MIGRATE_E2E_USERS") ?? 8));

Deno.test(`ops CLI: migrate ${PAID_USERS} existing paid users, then the read and hold commands`, async (t) => {
  const stack = await startStack();
  try {
    const users = await stack.newUsers(PAID_USERS);
    // The seed system's users: paid before the tier-change trigger existed, so no row and no kick.
    await stack.sql.begin(async (tx) => {
      await tx`alter table public.user_subscriptions disable trigger user`;
      await tx`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'pro'`;
      await tx`alter table public.user_subscriptions enable trigger user`;
    });
    const [{ rows }] = await stack.sql`select count(*)::int as rows from public.user_fly_apps`;
    assertEquals(rows, 0, "no app rows yet");

    await t.step("migrate: every paid user provisioned, a progress line, no failures", async () => {
      const run = await ops(stack, ["--actor", "ann", "migrate", "--batch", "10", "--interval-ms", "250"]);
      assertEquals(run.code, 0, `${run.out}\n${run.err}`);
      assert(run.out.includes(`migrate: ${PAID_USERS}/${PAID_USERS} paid users active`), run.out);
      assert(run.out.includes("0 failed") && run.out.includes("no failures"), run.out);
      assert(
        new RegExp(`migrate \\[.*\\] \\d+/${PAID_USERS} active`).test(run.progress),
        `progress bar: ${run.progress}`,
      );
      const statuses = await stack.sql`select status, count(*)::int from public.user_fly_apps group by 1`;
      assertEquals([...statuses], [{ status: "active", count: PAID_USERS }]);
      assertEquals(stack.emulator.state().apps.length, PAID_USERS, "one app each");
      const [{ events }] = await stack.sql`
        select count(*)::int as events from public.user_fly_app_events
        where event_type = 'migration_enqueued' and metadata->>'actor' = 'claimed:ann'`;
      assertEquals(events, PAID_USERS);
      const again = await ops(stack, ["migrate"]);
      assertEquals(again.code, 0, again.err);
      assert(again.out.includes(`${PAID_USERS}/${PAID_USERS} paid users active (0 new`), again.out);
    });

    const [user] = users;
    await t.step("list, show, events, summary", async () => {
      const list = await ops(stack, ["list", "--limit", "500"]);
      assertEquals(list.code, 0, list.err);
      for (const id of users) assert(list.out.includes(id), `list shows ${id}`);
      const show = await ops(stack, ["show", user, "--live"]);
      assertEquals(show.code, 0, show.err);
      const row = await stack.row(user);
      assert(show.out.includes(row!.fly_app_name!) && show.out.includes(row!.machine_id!), show.out);
      assert(show.out.includes("not offered: the tier decides"), show.out);
      const events = await ops(stack, ["events", user, "--json"]);
      const types = JSON.parse(events.out).events.map((e: { event_type: string }) => e.event_type);
      assert(types.includes("migration_enqueued") && types.includes("provision_completed"), types.join());
      const summary = await ops(stack, ["summary", "--json"]);
      assertEquals(JSON.parse(summary.out).active, PAID_USERS);
    });

    await t.step("hold and release through the CLI record the operator", async () => {
      const held = await ops(stack, ["hold", user, "--reason", "abuse"], { OPS_ACTOR: "bo" });
      assertEquals(held.code, 0, held.err);
      const list = await ops(stack, ["list", "--held", "--json"]);
      assertEquals(JSON.parse(list.out).apps.map((a: { user_id: string }) => a.user_id), [user]);
      const restart = await ops(stack, ["restart", user]);
      assertEquals(restart.code, 1, "refused while held");
      assert(restart.err.includes("held"), restart.err);
      const released = await ops(stack, ["release", user]);
      assertEquals(released.code, 0, released.err);
      const holds = (await stack.events(user)).filter((e) => e.event_type.startsWith("hold_"));
      assertEquals(holds.map((e) => e.metadata.actor), ["claimed:bo", "ops"]);
    });

    await t.step("usage as CSV, orphans, sweep runs, a missing user, an unknown tier", async () => {
      const usage = await ops(stack, ["usage", "--csv"]);
      assertEquals(usage.code, 0, usage.err);
      const lines = usage.out.split("\n");
      assertEquals(
        lines[0],
        "user_id,email,tier,fly_app_name,status,running_hours,estimated_monthly_usd,observed_usd,snapshot_gb,snapshot_monthly_usd,kept_volume_gb,kept_volume_monthly_usd",
      );
      assertEquals(lines.length, PAID_USERS + 1);
      const orphans = await ops(stack, ["orphans"]);
      assertEquals(orphans.code, 0, orphans.err);
      assert(
        orphans.out.includes("no sweep run has scanned for orphans yet") || orphans.out.includes("sweep run"),
      );
      const runs = await ops(stack, ["sweep-runs", "--json"]);
      assertEquals(runs.code, 0, runs.err);
      const missing = await ops(stack, ["show", "00000000-0000-4000-8000-00000000dead"]);
      assertEquals(missing.code, 1);
      assert(missing.err.startsWith("ops: HTTP 404:"), missing.err);
      const unknownTier = await ops(stack, ["list", "--tier", "platinum"]);
      assertEquals(unknownTier.code, 2, "an unknown tier is a usage error, as for a rollout");
      assert(/^ops: .*tier must be one of elite, free, pro/.test(unknownTier.err), unknownTier.err);
    });

    await t.step("with COLUMNS=120 no line of status, events, sweep-runs, list, show is wider", async () => {
      await stack.sweep();
      const commands = [
        ["status", user],
        ["events", user],
        ["events"],
        ["sweep-runs"],
        ["list"],
        ["show", user, "--live"],
      ];
      for (const args of commands) {
        const run = await ops(stack, args, { COLUMNS: "120" });
        assertEquals(run.code, 0, `${args.join(" ")}: ${run.err}`);
        const wide = run.out.split("\n").filter((line) => [...line].length > 120);
        assertEquals(wide, [], `ops ${args.join(" ")}`);
        assert(!/^[─├┼]+/m.test(run.out), `no separator lines: ops ${args.join(" ")}`);
      }
      const whole = await ops(stack, ["--wide", "sweep-runs"], { COLUMNS: "120" });
      assert(!whole.out.includes("…"), "--wide shows whole values");
    });
  } finally {
    await stack.stop();
  }
});
