/**
 * The sweep's rollout phase with a broken canary in its open gate: the gate is judged from the look the
 * sweep's detail check took of the canary in the same run (no Get Machine of its own, the same failing check
 * recorded on the target and the canary's health on its row); without such a look (the detail check did not
 * look at the canary, or looked too soon after the gate started) the rollout phase looks itself.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { type EngineFixture, withEngine } from "../_support/engine_fixture.ts";
import { RolloutsRepository } from "../../supabase/functions/_shared/db/fly_rollouts.ts";
import { advanceRollouts, GATE_LOOK_MS } from "../../supabase/functions/_shared/rollout/driver.ts";
import { RECENT_LOOK_MARGIN_MS, rolloutDeps } from "../../supabase/functions/_shared/rollout/apply.ts";
import { flyFleetLister } from "../../supabase/functions/_shared/sweep/fleet_listing.ts";
import { runHealthSweep } from "../../supabase/functions/_shared/sweep/sweep.ts";

const BROKEN = "registry.fly.io/vyx-user-backend:v3-broken";

/** Get Machine calls the emulator answered so far. */
function machineGets(f: EngineFixture): number {
  return Object.values(f.emulator.requestCounts().Machines_show ?? {}).reduce((sum, n) => sum + n, 0);
}

/** One sweep with the rollouts phase; `detailLimit` 0 skips the detail check. */
function sweep(f: EngineFixture, rollouts: RolloutsRepository, detailLimit?: number) {
  return runHealthSweep(f.deps, {
    owner: `sweep:${crypto.randomUUID()}`,
    limit: 100,
    budgetMs: 20_000,
    detailLimit,
    lister: flyFleetLister(f.deps.fly, f.emulator.orgSlug),
    rollouts,
  });
}

Deno.test("sweep with a broken canary in its gate: the gate is judged from the detail check's look, no Get Machine of its own", async () => {
  await withEngine(async (f) => {
    const users = await f.subscribe("pro", 3);
    for (const user of users) assertEquals((await f.reconcile(user)).outcome, "converged");
    const rollouts = new RolloutsRepository(f.db.sql);
    const rollout = await rollouts.create(
      { target: { image: BROKEN }, tier: "pro", canary_count: 1, batch_size: 2, health_timeout_s: 300 },
      "ops:test",
    );
    // As an operator's start does: apply the canary, one look, return with its gate open.
    const [applied] = await advanceRollouts(rolloutDeps(f.deps, rollouts), {
      owner: "driver",
      deadline: Date.now() + 30_000,
      lookMs: GATE_LOOK_MS.sweep,
    });
    assertEquals([applied.waiting, applied.applied.gate], ["gate", 1], JSON.stringify(applied));
    const [canary] = await f.db.sql<{ user_id: string }[]>`
      select user_id from public.fly_rollout_targets where rollout_id = ${rollout.id} and batch = 0`;
    // The gate started a while ago (a sweep comes up to a minute after the start).
    const backdate = () =>
      f.db.sql`update public.fly_rollout_targets set gate_started_at = now() - interval '1 minute'
        where rollout_id = ${rollout.id} and user_id = ${canary.user_id}`;
    await backdate();

    const before = machineGets(f);
    const report = await sweep(f, rollouts);
    assertEquals(machineGets(f), before, "no Get Machine: the gate used the detail check's look");
    assertEquals(report.observed.checked, 3);
    assertEquals([report.rollouts.driven, report.rollouts.gate, report.rollouts.failed], [1, 1, 0]);
    const [target] = await f.db.sql<{ state: string; machine_state: string; failing_checks: string[] }[]>`
      select state, machine_state, failing_checks from public.fly_rollout_targets
      where rollout_id = ${rollout.id} and user_id = ${canary.user_id}`;
    assertEquals(target.state, "updating", "the gate is still open");
    assertEquals(target.machine_state, "started");
    assert(target.failing_checks.length > 0, "the look saw the failing check");
    assertEquals((await f.row(canary.user_id)).health_status, "unhealthy", "the same look judged the row");

    // Without a detail look of the canary, the rollout phase looks itself: one Get Machine.
    const unchecked = await sweep(f, rollouts, 0);
    assertEquals([unchecked.observed.checked, unchecked.rollouts.gate], [0, 1]);
    assertEquals(machineGets(f), before + 1, "one Get Machine for the canary's gate");

    // A detail look sent less than the margin after the gate started might predate the update (another
    // driver's clock): not used, one Get Machine.
    await f.db.sql`update public.fly_rollout_targets set gate_started_at = now()
      where rollout_id = ${rollout.id} and user_id = ${canary.user_id}`;
    const fresh = await sweep(f, rollouts);
    assertEquals([fresh.observed.checked, fresh.rollouts.gate], [3, 1]);
    assertEquals(
      machineGets(f),
      before + 2,
      `a look within ${RECENT_LOOK_MARGIN_MS} ms of the start is not used`,
    );
  });
});
