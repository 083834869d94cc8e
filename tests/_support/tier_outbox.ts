/**
 * Tier changes reach `user_fly_apps` through the tier outbox and its drainer. Tests that change a tier and
 * then work on the user's row without waiting for a drainer apply the queued changes with this, as the
 * health sweep does: no kick. Inside a transaction, it also stands for "the drainer ran, the kick was lost".
 *
 * @module
 */
import type postgres from "postgres";

/**
 * Drains the tier outbox without kicking: records the desired state of every queued tier change (runs until
 * the drainer reports no `more`). Waits while another drainer (the local stack's one-second loop) holds the
 * lock.
 */
export async function applyTierChanges(sql: postgres.Sql | postgres.TransactionSql): Promise<void> {
  let busyWaits = 0;
  for (let run = 0; run < 1000; run++) {
    const [{ busy, more }] = await sql<{ busy: boolean; more: boolean }[]>`
      select coalesce((r ->> 'busy')::boolean, false) as busy, coalesce((r ->> 'more')::boolean, false) as more
      from private.drain_tier_outbox(1000, false) r`;
    if (!busy && !more) return;
    if (busy) {
      if (++busyWaits >= 200) throw new Error("the tier outbox drain lock stayed busy for 5 s");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error("the tier outbox still had more after 1000 drains");
}
