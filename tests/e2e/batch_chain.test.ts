/**
 * End to end: a batch kick larger than one invocation can reconcile within its budget goes on hop by hop.
 * Each hop (a background `{user_ids}` POST to the provision function) stops starting users a sixth of its
 * short budget before the end and hands the users it never started to a new invocation of the same function,
 * so the whole batch converges with no health sweep at all. A `?wait=true` batch never hands on.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { type Stack, startStack } from "./_support.ts";

/**
 * A batch larger than one hop gets through at Fly's app-create pace (0.95/s after a burst of 2 on the client
 * side): a 24 s budget starts users for 20 s (a sixth is kept so the last ones can finish: a machine-start wait
 * needs 2 s left), one at a time so each waits at most one token.
 */
const CHAIN = { users: 24, env: { RECONCILE_BUDGET_MS: "24000", RECONCILE_BATCH_CONCURRENCY: "1" } };
/** A `?wait=true` batch: a 6 s budget starts users for 5 s, too short for all of them. */
const WAIT = { users: 8, env: { RECONCILE_BUDGET_MS: "6000", RECONCILE_BATCH_CONCURRENCY: "1" } };

/** The function log entries with message `msg`. */
function logEntries(stack: Stack, msg: string): Record<string, unknown>[] {
  return stack.logs.flatMap((line) => {
    try {
      const entry = JSON.parse(line);
      return entry?.msg === msg ? [entry] : [];
    } catch {
      return [];
    }
  });
}

/** Number of health sweeps that ran (none may: the chain alone must converge the batch). */
async function sweepRuns(stack: Stack): Promise<number> {
  const [{ n }] = await stack.sql<{ n: number }[]>`select count(*)::int as n from public.fly_sweep_runs`;
  return n;
}

Deno.test("a batch kick larger than one hop hands the rest on to new invocations and converges without a sweep", async () => {
  const stack = await startStack({ functionEnv: CHAIN.env });
  try {
    const users = await stack.newUsers(CHAIN.users);
    // One statement upgrading every user: the drainer sends ONE kick naming all of them.
    await stack
      .sql`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'pro'`;
    for (const user of users) {
      const row = await stack.waitSettled(user, 60_000);
      assertEquals([row.status, row.observed_generation], ["active", 1]);
    }
    assertEquals(await sweepRuns(stack), 0, "no sweep ran");
    assertEquals(
      stack.emulator.requestCounts().Apps_create,
      { "201": CHAIN.users },
      "one create each, no 429",
    );

    // The first hop came from the drainer's kick; every later one from the hop before it, each with fewer users.
    const handOns = logEntries(stack, "batch handed on");
    assert(handOns.length >= 1, "at least one hand-on");
    const hops = [...handOns.map((h) => h.request_id), handOns.at(-1)!.next_request_id];
    assertEquals(new Set(hops).size, hops.length, "each hop is a new invocation");
    for (const [i, handOn] of handOns.entries()) {
      assert((handOn.started as number) > 0, "a hop hands on only after starting someone");
      assertEquals(handOn.users, (handOn.batch_users as number) - (handOn.started as number));
      if (i > 0) assertEquals(handOn.request_id, handOns[i - 1].next_request_id, "the chain links up");
    }
    assertEquals(handOns[0].batch_users, CHAIN.users, "the first hop had the drainer's whole batch");
    assertEquals(logEntries(stack, "could not hand the batch on; the users wait for the health sweep"), []);
  } finally {
    await stack.stop();
  }
});

Deno.test("a ?wait=true batch stops starting users near its budget's end, reports them left_for_sweep, never hands on", async () => {
  const stack = await startStack({ functionEnv: WAIT.env, netWorker: false });
  try {
    const users = await stack.newUsers(WAIT.users);
    for (const user of users) await stack.setTier(user, "pro");
    const answer = await stack.call("provision-user-fly-app", { wait: true, body: { user_ids: users } });
    assertEquals(answer.status, 200, JSON.stringify(answer.body));
    const results = answer.body.results as { user_id: string; outcome: string }[];
    assertEquals(results.map((r) => r.user_id), users, "one result per user, in order");
    const left = results.filter((r) => r.outcome === "left_for_sweep");
    assert(left.length > 0 && left.length < WAIT.users, `${left.length} of ${WAIT.users} left for the sweep`);
    assertEquals(results.slice(WAIT.users - left.length), left, "the unstarted users are the tail");
    for (const { user_id } of left) assertEquals((await stack.row(user_id))?.status, "pending");
    assertEquals(logEntries(stack, "batch handed on"), []);
  } finally {
    await stack.stop();
  }
});
