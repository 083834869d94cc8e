/**
 * End to end: ten concurrent provision calls for one user, synchronous (`?wait=true`, ops) and asynchronous
 * (202, like the trigger's kick) mixed, with and without a generation, end with one app and one machine, and
 * every Fly resource written exactly once.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { type FunctionAnswer, startStack } from "./_support.ts";

/** Fly operations that create or change something. */
const WRITES = [
  "Apps_create",
  "Apps_delete",
  "App_IPAssignments_create",
  "Secrets_update",
  "Machines_create",
  "Machines_update",
  "Machines_start",
  "Machines_delete",
];

Deno.test("ten concurrent provision calls for one user make one app and one machine", async () => {
  // No pg_net worker: the trigger's own kick stays queued, so the ten calls below are the only ones.
  const stack = await startStack({ netWorker: false });
  try {
    const [user] = await stack.newUsers(1);
    await stack.setTier(user, "pro");

    // Even calls wait for the outcome (ops), odd ones are accepted at once (like the trigger's kick); two of
    // them carry no generation (ops), so they reconcile even after another call converged.
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        stack.call("provision-user-fly-app", {
          wait: i % 2 === 0,
          body: { user_id: user, reason: `concurrent-${i}`, ...(i % 5 === 0 ? {} : { generation: 1 }) },
        })),
    );
    assertAnswers(answers);
    const outcomes = answers.filter((a) => a.status === 200).map((a) => a.body.outcome);
    assert(outcomes.includes("converged"), outcomes.join(", "));
    const row = await stack.waitSettled(user);
    assertEquals([row.status, row.health_status], ["active", "healthy"]);

    // Let every background reconcile finish (the gateway waits for them when it stops), then count.
    await stack.stopServices();
    const apps = await stack.appsOf(user);
    assertEquals(apps.map((a) => a.name), [row.fly_app_name], "one app");
    assertEquals(
      apps[0].machines.map((m) => [m.id, m.state]),
      [[row.machine_id, "started"]],
      "one machine ever",
    );
    assertEquals(stack.emulator.state().apps.length, 1, "no other app");
    // Everything was written exactly once: the calls that came later found nothing to change.
    assertEquals(writeCounts(stack.emulator.requestCounts()), {
      Apps_create: { "201": 1 },
      App_IPAssignments_create: { "200": 2 },
      Secrets_update: { "200": 1 },
      Machines_create: { "200": 1 },
    });
    const events = await stack.events(user);
    assertEquals(events.filter((e) => e.event_type === "provision_completed").length >= 1, true);
    assertEquals(events.filter((e) => e.event_type === "machine_created").length, 1);
    assertEquals(events.filter((e) => e.event_type === "app_created").length, 1);
    const final = await stack.row(user);
    assertEquals([final?.status, final?.observed_generation, final?.lease_owner], ["active", 1, null]);
  } finally {
    await stack.stop();
  }
});

/** Synchronous calls end converged, up to date or busy (never failed); asynchronous ones are accepted. */
function assertAnswers(answers: FunctionAnswer[]): void {
  answers.forEach((answer, i) => {
    const detail = `call ${i}: ${answer.status} ${JSON.stringify(answer.body)}`;
    if (i % 2 === 0) {
      assert(
        (answer.status === 200 && ["converged", "up_to_date"].includes(answer.body.outcome)) ||
          (answer.status === 409 && answer.body.error.code === "reconcile_in_progress"),
        detail,
      );
    } else {
      assertEquals(answer.status, 202, detail);
    }
  });
}

/** The counts of the write operations, per operation and status. */
function writeCounts(counts: Record<string, Record<string, number>>): Record<string, Record<string, number>> {
  return Object.fromEntries(WRITES.filter((op) => counts[op]).map((op) => [op, counts[op]]));
}
