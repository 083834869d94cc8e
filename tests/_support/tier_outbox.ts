/**
 * Tier changes reach `user_fly_apps` through the tier outbox and its drainer. Tests that change a tier and
 * then work on the user's row without waiting for a drainer apply the queued changes with this, as the
 * health sweep does: no kick. Inside a transaction, it also stands for "the drainer ran, the kick was lost".
 *
 * @module
 */
import type postgres from "postgres";

/**
 * Drains the tier outbox without kicking: records the desired state of every queued tier change. Waits
 * while another drainer (the local stack's one-second loop) holds the drain lock.
 */
export async function applyTierChanges(sql: postgres.Sql | postgres.TransactionSql): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const [{ busy }] = await sql<{ busy: boolean }[]>`
      select coalesce((private.drain_tier_outbox(1000, false) ->> 'busy')::boolean, false) as busy`;
    if (!busy) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("the tier outbox drain lock stayed busy for 5 s");
}
