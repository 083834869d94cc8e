/**
 * What a repair says: a repair reconcile that restores a present app writes `repaired`; one whose row became
 * absent meanwhile (a downgrade drained after the sweep claimed the row) is a plain deprovision, so the user's
 * log ends with `deprovision_completed` (issue 19's quiet downgrade; the bulk regression saw this race).
 */
import { assertEquals } from "../_support/assert.ts";
import { withEngine } from "../_support/engine_fixture.ts";
import {
  reconcileUser,
  REPAIR_REASON_PREFIX,
} from "../../supabase/functions/_shared/controller/controller.ts";

/** The user's event types, oldest first. */
async function eventTypes(sql: import("postgres").Sql, userId: string): Promise<string[]> {
  const rows = await sql<{ event_type: string }[]>`
    select event_type from public.user_fly_app_events where user_id = ${userId} order by seq`;
  return rows.map((row) => row.event_type);
}

Deno.test("a repair of a present app says repaired; one whose row became absent is a plain deprovision", async () => {
  await withEngine(async (f) => {
    const [kept, gone] = await f.subscribe("pro", 2);
    for (const user of [kept, gone]) assertEquals((await f.reconcile(user)).outcome, "converged");
    const repair = (userId: string) =>
      reconcileUser(f.deps, {
        userId,
        owner: `sweep:${crypto.randomUUID()}`,
        deadline: Date.now() + 20_000,
        reason: `${REPAIR_REASON_PREFIX}machine_stopped`,
      });

    assertEquals((await repair(kept)).outcome, "converged");
    assertEquals((await eventTypes(f.db.sql, kept)).at(-1), "repaired");

    await f.setTier(gone, "free");
    assertEquals((await repair(gone)).outcome, "converged");
    const types = await eventTypes(f.db.sql, gone);
    assertEquals(types.at(-1), "deprovision_completed", types.join(", "));
    assertEquals(types.filter((t) => t === "repaired"), []);
  });
});
