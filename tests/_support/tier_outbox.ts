/**
 * Tier changes reach `user_fly_apps` through the tier outbox and its drainer. Tests that change a tier and
 * then work on the user's row without waiting for a drainer apply the queued changes with this, as the
 * health sweep does: no kick. Inside a transaction, it also stands for "the drainer ran, the kick was lost".
 *
 * @module
 */
import type postgres from "postgres";

/** Changes one drain takes at most. */
const DRAIN_BATCH = 1000;

/**
 * Drains the tier outbox without kicking: records the desired state of every queued tier change (in batches
 * of {@link DRAIN_BATCH}). Waits while another drainer (the local stack's one-second loop) holds the lock.
 */
export async function applyTierChanges(sql: postgres.Sql | postgres.TransactionSql): Promise<void> {
  for (let attempt = 0; attempt < 200;) {
    const [{ busy, drained }] = await sql<{ busy: boolean; drained: number }[]>`
      select coalesce((r ->> 'busy')::boolean, false) as busy, coalesce((r ->> 'drained')::int, 0) as drained
      from private.drain_tier_outbox(${DRAIN_BATCH}, false) r`;
    if (!busy && drained < DRAIN_BATCH) return;
    if (busy) {
      attempt++;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error("the tier outbox drain lock stayed busy for 5 s");
}
