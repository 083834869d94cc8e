/**
 * End to end: the admin API's figures add up. `summary` counts only rows that are not deleted (the deleted
 * ones apart), and its named counts sum to the total; a held machine is estimated at its storage only (the
 * price table's rootfs and volume prices) and at its running price again once released; an action a row's
 * state cannot take is refused with a sentence saying what the state is, through the API and the CLI.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { startStack } from "./_support.ts";
import { admin } from "./admin_support.ts";
import { ops } from "./admin_cli_support.ts";

Deno.test("admin figures: summary without deleted rows, storage-only estimates, refusals that say why", async (t) => {
  const stack = await startStack({ netWorker: false });
  try {
    const [running, held, gone] = await stack.newUsers(3);
    for (const user of [running, held, gone]) {
      await stack.setTier(user, "pro");
      const answer = await stack.call("provision-user-fly-app", { wait: true, body: { user_id: user } });
      assertEquals(answer.status, 200, JSON.stringify(answer.body));
    }
    await stack.setTier(gone, "free");
    const removed = await stack.call("deprovision-user-fly-app", { wait: true, body: { user_id: gone } });
    assertEquals(removed.status, 200, JSON.stringify(removed.body));
    assertEquals((await stack.row(gone))?.status, "deleted");
    const estimate = async (user: string) => {
      const [row] = await stack.sql<{ usd: number }[]>`
        select monthly_cost_estimate_usd::float8 as usd from public.user_fly_apps where user_id = ${user}`;
      return row.usd;
    };
    const [{ plan, storage }] = await stack.sql<{ plan: number; storage: number }[]>`
      select (select monthly_cost_estimate_usd::float8 from public.fly_plans where tier = 'pro') as plan,
             private.storage_monthly_cost_usd(0)::float8 as storage`;
    assert(storage > 0 && storage < plan, `storage ${storage} < plan ${plan}`);

    await t.step("summary: deleted rows apart; the counts add up to the total", async () => {
      const { status, body } = await admin(stack, "/summary");
      assertEquals(
        status,
        200,
        `${JSON.stringify(body)}\n${stack.logs.filter((l) => l.includes("error")).slice(-3).join("\n")}`,
      );
      assertEquals([body.total, body.active, body.deleted], [2, 2, 1]);
      assertEquals(body.active + body.errors + body.failed + body.pending + body.other, body.total);
      assertEquals(body.estimated_monthly_cost_usd, Math.round(2 * plan * 100) / 100);
    });

    await t.step("a held machine costs its storage only; released, its running price", async () => {
      assertEquals(await estimate(held), plan);
      const answer = await admin(stack, `/apps/${held}/hold`, { method: "POST", body: { reason: "test" } });
      assertEquals(answer.status, 200, JSON.stringify(answer.body));
      assertEquals(await estimate(held), storage);
      const { body } = await admin(stack, "/summary");
      assertEquals([body.total, body.held, body.other], [2, 1, 1]);
      assertEquals(body.estimated_monthly_cost_usd, Math.round((plan + storage) * 100) / 100);
      const release = await admin(stack, `/apps/${held}/release`, { method: "POST" });
      assertEquals(release.status, 200, JSON.stringify(release.body));
      assertEquals(await estimate(held), plan);
    });

    await t.step("a machine Fly reports stopped costs its storage only", async () => {
      await stack
        .sql`update public.user_fly_apps set last_machine_state = 'stopped' where user_id = ${running}`;
      assertEquals(await estimate(running), storage);
      await stack
        .sql`update public.user_fly_apps set last_machine_state = 'started' where user_id = ${running}`;
      assertEquals(await estimate(running), plan);
    });

    await t.step("actions a deleted row cannot take say it was deprovisioned, and when", async () => {
      for (const action of ["restart", "hold"]) {
        const answer = await admin(stack, `/apps/${gone}/${action}`, { method: "POST" });
        assertEquals(answer.status, 409, JSON.stringify(answer.body));
        assert(
          /deprovisioned on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/.test(answer.body.error.message),
          answer.body.error.message,
        );
      }
      const cli = await ops(stack, ["restart", gone]);
      assertEquals(cli.code, 1);
      assert(/^ops: HTTP 409: cannot restart: the user's app was deprovisioned on /.test(cli.err), cli.err);
    });
  } finally {
    await stack.stop();
  }
});
