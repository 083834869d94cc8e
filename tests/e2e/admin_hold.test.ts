/**
 * End to end: `ops hold` stops the user's machine and it stays stopped through two health sweeps (the
 * sweep reports a held app and does not repair it); `ops release` starts it again.
 *
 * The hold route records the hold and runs the controller, which stops a held user's machine and keeps it
 * stopped; the sweep's observation reports it without repairing it.
 */
import { assert, assertEquals } from "../_support/assert.ts";
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
      const row = await stack.sql`select held_by from public.user_fly_apps where user_id = ${user}`;
      assertEquals(row[0].held_by, "ops:ann");

      const released = await ops(stack, ["release", user]);
      assertEquals(released.code, 0, released.err);
      assert((await machineState()).includes("started"), "started again");
    } finally {
      await stack.stop();
    }
  },
});
