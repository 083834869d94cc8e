/**
 * End to end: provisioning with a bad Fly token leaves permanent `error` rows (never retried by the sweep);
 * once the token is fixed (the functions restarted with the right one), `ops retry --all-failed` makes them
 * due with an event naming the operator, and the next sweep provisions every one of them.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { waitFor } from "../_support/wait.ts";
import { startFlyEmulator } from "../../scripts/local/fly-emulator/mod.ts";
import { startStack } from "./_support.ts";
import { ops } from "./admin_cli_support.ts";

Deno.test("bulk retry of error rows after the Fly token is fixed", async () => {
  const emulator = await startFlyEmulator({ latency: "fast", token: `fly-right-${crypto.randomUUID()}` });
  const broken = await startStack({
    functionEnv: { FLY_API_BASE_URL: emulator.url, FLY_API_TOKEN: "fly-wrong-token" },
  });
  try {
    const users = await broken.newUsers(4);
    for (const user of users) await broken.setTier(user, "pro");
    await waitFor("every row in error (401 from Fly)", async () => {
      const rows = await Promise.all(users.map((user) => broken.row(user)));
      return rows.every((row) => row?.status === "error");
    }, 30_000);
    const before = await broken.sweep();
    assertEquals(before.reconciled.attempted, 0, "the sweep never retries a permanent error by itself");
    await broken.stopServices();

    const fixed = await startStack({
      databaseUrl: broken.db!.url,
      functionEnv: { FLY_API_BASE_URL: emulator.url, FLY_API_TOKEN: emulator.token },
    });
    try {
      const listed = await ops(fixed, ["list", "--status", "error", "--json"]);
      assertEquals(listed.code, 0, listed.err);
      assertEquals(JSON.parse(listed.out).apps.length, 4);

      const retried = await ops(fixed, [
        "--actor",
        "ann",
        "retry",
        "--all-failed",
        "--reason",
        "token fixed",
      ]);
      assertEquals(retried.code, 0, retried.err);
      assert(retried.out.startsWith("4 row(s) retried (error, failed): the rows are due now"), retried.out);
      for (const user of users) {
        const event = (await fixed.events(user)).find((e) => e.event_type === "retry_requested");
        assertEquals([event?.metadata.actor, event?.metadata.reason], ["claimed:ann", "token fixed"]);
      }

      const swept = await ops(fixed, ["sweep", "--json"]);
      assertEquals(swept.code, 0, swept.err);
      assertEquals(JSON.parse(swept.out).reconciled.converged, 4);
      for (const user of users) {
        const row = await fixed.row(user);
        assertEquals([row?.status, row?.error_message], ["active", null], user);
      }
      assertEquals(emulator.state().apps.length, 4, "one app per user");
      const left = await ops(fixed, ["list", "--status", "error", "--json"]);
      assertEquals(JSON.parse(left.out).apps.length, 0);
    } finally {
      await fixed.stop();
    }
  } finally {
    await broken.stop();
    await emulator.close();
  }
});
