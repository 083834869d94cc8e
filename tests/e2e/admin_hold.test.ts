/**
 * End to end: `ops hold` stops the user's machine and it stays stopped through two health sweeps (the
 * sweep reports a held app and does not repair it); a second hold is refused naming the first (who, since
 * when, why) and `--replace` records both; `ops release` starts it again.
 *
 * The hold route records the hold and runs the controller, which stops a held user's machine and keeps it
 * stopped; the sweep's observation reports it without repairing it.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { admin } from "./admin_support.ts";
import { liveMachines, startStack } from "./_support.ts";
import { ops } from "./admin_cli_support.ts";

Deno.test({
  name: "a hold keeps the machine stopped through two sweeps; release starts it",
  async fn() {
    const stack = await startStack({ netWorker: false });
    try {
      const [user] = await stack.newUsers(1);
      await stack.setTier(user, "pro");
      const provisioned = await stack.call("provision-user-fly-app", { wait: true, body: { user_id: user } });
      assertEquals(provisioned.status, 200, JSON.stringify(provisioned.body));
      const machineState = async () => {
        const [app] = await stack.appsOf(user);
        return liveMachines(app).map((m) => m.state);
      };

      const held = await ops(stack, ["--actor", "ann", "hold", user, "--reason", "abuse"]);
      assertEquals(held.code, 0, held.err);
      assertEquals(await machineState(), ["stopped"]);
      for (const round of [1, 2]) {
        await stack.sweep();
        assertEquals(await machineState(), ["stopped"], `still stopped after sweep ${round}`);
      }
      const holder = async () => {
        const [row] = await stack.sql`select held_by, hold_reason, held_at from public.user_fly_apps
                                      where user_id = ${user}`;
        return row;
      };
      const first = await holder();
      assertEquals([first.held_by, first.hold_reason], ["claimed:ann", "abuse"]);

      // A second hold keeps the first one's audit: refused, naming who holds it, since when and why.
      const second = await ops(stack, ["--actor", "bo", "hold", user, "--reason", "other"]);
      assertEquals(second.code, 1, second.out);
      assert(
        /^ops: .*already held by claimed:ann since \d{4}-\d\d-\d\dT.*reason: abuse/.test(second.err),
        second.err,
      );
      assertEquals(second.err.split("\n").length, 1, "one line");
      assertEquals({ ...(await holder()) }, { ...first }, "the first hold is kept");
      const refused = await admin(stack, `/apps/${user}/hold`, { method: "POST", body: {}, actor: "bo" });
      assertEquals(refused.status, 409);
      assertEquals(refused.body.error.code, "conflict");

      // An explicit --replace takes the hold over and its event records both holds.
      const replaced = await ops(stack, ["--actor", "bo", "hold", user, "--reason", "audit", "--replace"]);
      assertEquals(replaced.code, 0, replaced.err);
      const now = await holder();
      assertEquals([now.held_by, now.hold_reason], ["claimed:bo", "audit"]);
      const [event] = await stack.sql`select metadata from public.user_fly_app_events
        where user_id = ${user} and event_type = 'hold_set' order by seq desc limit 1`;
      assertEquals(event.metadata.actor, "claimed:bo");
      assertEquals(event.metadata.reason, "audit");
      assertEquals(
        [event.metadata.replaced.held_by, event.metadata.replaced.reason],
        ["claimed:ann", "abuse"],
      );
      assertEquals(Date.parse(event.metadata.replaced.held_at), first.held_at.getTime());

      const released = await ops(stack, ["release", user]);
      assertEquals(released.code, 0, released.err);
      assert((await machineState()).includes("started"), "started again");
    } finally {
      await stack.stop();
    }
  },
});
