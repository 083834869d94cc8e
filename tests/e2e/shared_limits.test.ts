/**
 * End to end: Fly's org-wide app-create limit holds across the gateway's worker processes (the local stand-in
 * for hosted isolates), because every worker draws from the same token bucket in Postgres.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { startStack } from "./_support.ts";

const USERS = 12;

/** Pids of the running children of `pid` (the gateway's workers), from /proc (Linux). */
async function childPids(pid: number): Promise<number[]> {
  const children: number[] = [];
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    const text = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/children`);
    children.push(...text.split(" ").filter((p) => p.trim() !== "").map(Number));
  }
  return children;
}

Deno.test("12 users kicked at once: the kicks land on several workers, app creates share one bucket, no 429", async () => {
  // The emulator enforces the documented limits (app create: 1/s with bursts of 3 per org); the client keeps
  // 95 % of them. Each worker alone would send its own burst at once: with several, only the shared bucket
  // keeps the org within its limit.
  const stack = await startStack();
  try {
    assert(stack.services.gateway.workers > 1, "the gateway runs several workers per function");
    const users = await stack.newUsers(USERS);
    // Rows due now without the drainer's single batch kick (as after a sweep's drift repair), then one kick
    // per user at the same time, as ops or several batch kicks would send them.
    await stack.sql.begin(async (tx) => {
      await tx`alter table public.user_subscriptions disable trigger user`;
      await tx`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'pro'`;
      await tx`alter table public.user_subscriptions enable trigger user`;
    });
    await stack.sql`select private.repair_desired_state_drift(${USERS})`;
    const started = performance.now();
    const kicks = await Promise.all(
      users.map((user) => stack.call("provision-user-fly-app", { body: { user_id: user }, wait: false })),
    );
    assert(kicks.every((kick) => kick.status === 202), "every kick accepted");
    let workersSeen = 0;
    for (const user of users) {
      workersSeen = Math.max(workersSeen, (await childPids(stack.services.gateway.pid)).length);
      const row = await stack.waitSettled(user, 90_000);
      assertEquals(row.status, "active");
    }
    const seconds = (performance.now() - started) / 1000;
    assert(workersSeen > 1, `the kicks were served by ${workersSeen} worker process(es)`);
    assertEquals(stack.emulator.requestCounts().Apps_create, { "201": USERS }, "every app created, no 429");
    const [bucket] = await stack.sql`
      select tokens from private.fly_rate_buckets where bucket = 'fly:Apps_create:personal'`;
    assert(bucket !== undefined, "the creates drew from the bucket in Postgres");
    const floor = (USERS - 2) / 0.95;
    assert(
      seconds >= floor * 0.95,
      `${USERS} creates in ${seconds.toFixed(1)} s: faster than the shared rate`,
    );
  } finally {
    await stack.stop();
  }
});
