/**
 * The console's per-user actions without a browser: which a row's state offers, and that the volume ones
 * (restore, revert) ask for a confirmation naming what happens to the user's volume.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { actionsFor } from "../../console/src/actions.js";

const ACTIVE = {
  user_id: "u1",
  status: "active",
  fly_app_name: "app",
  machine_id: "m1",
  desired_state: "present",
};

Deno.test("console actions: a user with a volume gets snapshot, restore and revert; restore and revert confirm", () => {
  assertEquals(
    actionsFor(ACTIVE).map((a) => a.name),
    ["retry", "hold", "restart"],
    "no volume: none of them",
  );
  const actions = actionsFor({ ...ACTIVE, volume_id: "vol_1" });
  assertEquals(actions.map((a) => a.name), ["retry", "hold", "restart", "snapshot", "restore", "revert"]);
  const byName = Object.fromEntries(actions.map((a) => [a.name, a]));
  assertEquals(byName.snapshot.confirm, undefined, "a snapshot changes nothing: no confirmation");
  assert(byName.restore.confirm?.includes("vol_1") && byName.restore.confirm.includes("kept 7 days"));
  assert(byName.revert.confirm?.includes("back onto the volume"));
  assertEquals(
    actionsFor({ ...ACTIVE, volume_id: "vol_1", status: "suspended" }),
    [],
    "a suspended row: nothing",
  );
});
