/**
 * A committed tier change reaches the provision function through the tier outbox: the local one-second
 * drainer records the desired state and sends one batched kick `{user_ids}` through pg_net, and the function
 * (202, then reconcile in the background) converges every user in the batch.
 */
import { assertEquals } from "../_support/assert.ts";
import { waitFor } from "../_support/wait.ts";
import { startStack } from "./_support.ts";

Deno.test("committed tier changes reach the function in one batched kick from the drainer and converge", async () => {
  const stack = await startStack();
  try {
    const users = await stack.newUsers(2);
    // One transaction upgrading both users: one outbox row each, nothing else in the user's transaction.
    await stack.sql.begin(async (tx) => {
      for (const user of users) {
        await tx`insert into public.user_subscriptions (user_id, tier) values (${user}, 'pro')`;
      }
    });
    const rows = await Promise.all(users.map((user) => stack.waitSettled(user, 30_000)));
    assertEquals(rows.map((r) => [r.status, r.desired_state, r.observed_generation]), [
      ["active", "present", 1],
      ["active", "present", 1],
    ]);

    // Both were named in the same kick, and the provision function accepted it.
    const requestIds = await Promise.all(users.map(async (user) => {
      const events = await stack.events(user);
      const requested = events.find((e) => e.event_type === "provision_requested");
      return (requested?.metadata as { kick?: { request_id?: number } })?.kick?.request_id;
    }));
    assertEquals(
      requestIds[0] !== undefined && requestIds[0] === requestIds[1],
      true,
      "one request for both",
    );
    const response = await waitFor("the kick's response", async () => {
      const [row] = await stack.sql`
        select status_code, content from net._http_response where id = ${requestIds[0]!}`;
      return row;
    });
    assertEquals(response.status_code, 202);
    assertEquals(JSON.parse(response.content).users, 2);
    assertEquals(
      (await stack.sql`select count(*)::int as n from private.tier_outbox`)[0].n,
      0,
      "outbox drained",
    );
  } finally {
    await stack.stop();
  }
});

Deno.test("an ops batch call with ?wait=true reconciles each user to its current tier and reports each outcome", async () => {
  // No net worker and no drainer: the tier changes are recorded without a kick, so only this call acts.
  const stack = await startStack({ netWorker: false });
  try {
    const [upgraded, downgraded] = await stack.newUsers(2);
    await stack.setTier(upgraded, "pro");
    await stack.setTier(downgraded, "elite");
    const first = await stack.call("provision-user-fly-app", {
      wait: true,
      body: { user_ids: [upgraded, downgraded] },
    });
    assertEquals(first.status, 200, JSON.stringify(first.body));
    assertEquals(first.body.results, [
      { user_id: upgraded, outcome: "converged" },
      { user_id: downgraded, outcome: "converged" },
    ]);

    await stack.setTier(downgraded, "free");
    const second = await stack.call("provision-user-fly-app", {
      wait: true,
      body: { user_ids: [downgraded], reason: "ops batch" },
    });
    assertEquals(second.body.results, [{ user_id: downgraded, outcome: "converged" }]);
    const row = await stack.row(downgraded);
    assertEquals([row?.status, row?.desired_state], ["deleted", "absent"], "the batch also deprovisions");
    assertEquals(await stack.appsOf(downgraded), []);
  } finally {
    await stack.stop();
  }
});
