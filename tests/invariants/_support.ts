/**
 * Helpers of the invariant tests: waiting until users settle (with sweeps to drive what a lost kick left),
 * and what a user's machine runs.
 *
 * @module
 */
import { liveMachines, type Stack } from "../e2e/_support.ts";
import { waitFor } from "../_support/wait.ts";

/**
 * Waits until every one of `users` is settled (each row's desired generation observed, nothing due, no
 * lease; no tier change left in the outbox), running a sweep every few seconds meanwhile, as pg_cron would.
 */
export async function settleAll(stack: Stack, users: string[], timeoutMs = 60_000): Promise<void> {
  let lastSweep = Date.now();
  let left = { unsettled: users.length, queued: 0 };
  await waitFor(`${users.length} users to settle`, async () => {
    const [{ unsettled, queued }] = await stack.sql<{ unsettled: number; queued: number }[]>`
      select (select count(*)::int from public.user_fly_apps a
              where a.user_id = any(${users}::uuid[])
                and (a.observed_generation < a.desired_generation or a.next_attempt_at is not null
                     or a.lease_owner is not null)) as unsettled,
             (select count(*)::int from private.tier_outbox) as queued`;
    left = { unsettled, queued };
    if (unsettled === 0 && queued === 0) return true;
    if (Date.now() - lastSweep > 3_000) {
      await stack.sweep();
      lastSweep = Date.now();
    }
    return false;
  }, timeoutMs).catch((error) => {
    throw new Error(`${(error as Error).message}: ${JSON.stringify(left)} left`);
  });
}

/** `[cpu_kind, cpus, memory_mb]` of the user's one live machine (fails unless there is exactly one). */
export async function sizeOf(stack: Stack, user: string): Promise<[string, number, number]> {
  const machines = (await stack.appsOf(user)).flatMap(liveMachines);
  if (machines.length !== 1) throw new Error(`user ${user} has ${machines.length} live machines`);
  const guest = (machines[0].config as { guest?: { cpu_kind: string; cpus: number; memory_mb: number } })
    .guest!;
  return [guest.cpu_kind, guest.cpus, guest.memory_mb];
}
