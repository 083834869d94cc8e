/**
 * The SQL side of issue 19: a reconcile's spec is the desired state recorded on the row (never the unrecorded
 * current tier); the sweep's safety net makes contradicted rows due with a `state_contradiction` event; the
 * fleet listing ignores deleted rows whose machines are gone; a plan edit bumps its version; an override is
 * validated (22023, nothing written) and makes the row due.
 */
import { assertEquals, assertRejects } from "../_support/assert.ts";
import { createMigratedDatabase, createUsers } from "../_support/migrated_database.ts";
import { applyTierChanges } from "../_support/tier_outbox.ts";

Deno.test("desired state per generation, contradictions, deleted rows, plan versions, overrides", async (t) => {
  const db = await createMigratedDatabase();
  const sql = db.sql;
  try {
    const [a, b, c, d] = await createUsers(db, 4);
    await sql`insert into public.user_subscriptions (user_id, tier) values (${a}, 'pro'), (${b}, 'pro'), (${c}, 'pro'),
      (${d}, 'pro')`;
    await applyTierChanges(sql);
    const spec = async (user: string) =>
      (await sql<{ s: Record<string, unknown> }[]>`select private.get_desired_spec(${user}) as s`)[0].s;

    await t.step("the spec is the recorded desired state until the drainer records the change", async () => {
      await sql`update public.user_subscriptions set tier = 'free' where user_id = ${a}`;
      assertEquals([(await spec(a)).desired_state, (await spec(a)).desired_generation], ["present", 1]);
      await applyTierChanges(sql);
      assertEquals([(await spec(a)).desired_state, (await spec(a)).desired_generation], ["absent", 2]);
    });

    await t.step("contradicted rows become due with an event naming both sides", async () => {
      // a: absent but active (the first sequence); b: present but deleted; c: consistent.
      await sql`update public.user_fly_apps set status = 'active', next_attempt_at = null,
                observed_generation = desired_generation where user_id = ${a}`;
      await sql`update public.user_fly_apps set status = 'deleted', next_attempt_at = null,
                observed_generation = desired_generation where user_id in (${b})`;
      await sql`update public.user_fly_apps set status = 'active', next_attempt_at = null,
                observed_generation = desired_generation where user_id in (${c})`;
      const flagged = await sql<{ id: string }[]>`select private.flag_state_contradictions('{}', 100) as id`;
      const ids = await sql<{ user_id: string }[]>`
        select user_id from public.user_fly_apps where id = any(${
        flagged.map((r) => r.id)
      }::uuid[]) order by 1`;
      assertEquals(ids.map((r) => r.user_id).sort(), [a, b].sort());
      const [event] = await sql<{ metadata: Record<string, unknown> }[]>`
        select metadata from public.user_fly_app_events where user_id = ${a} and event_type = 'state_contradiction'`;
      assertEquals([event.metadata.desired_state, event.metadata.status], ["absent", "active"]);
      const again = await sql`select private.flag_state_contradictions('{}', 100)`;
      assertEquals(again.length, 0, "already due: not flagged twice");
    });

    await t.step("a deleted row is not observed unless a live machine of ours shows up", async () => {
      await sql`update public.user_fly_apps set status = 'deleted', fly_app_name = 'vyx-user-gone',
                next_attempt_at = null, last_machine_state = null where user_id = ${a}`;
      const state = (live: number) =>
        sql.json([{
          app_name: "vyx-user-gone",
          state: live ? "started" : "missing",
          machine_id: null,
          live_machines: live,
          observed_at: new Date().toISOString(),
        }]);
      assertEquals((await sql`select * from private.record_fleet_states(${state(0)})`).length, 0);
      const [{ last_machine_state }] = await sql`select last_machine_state from public.user_fly_apps
                                                 where user_id = ${a}`;
      assertEquals(last_machine_state, null, "nothing written");
      assertEquals((await sql`select * from private.record_fleet_states(${state(1)})`).length, 1);
    });

    await t.step("a plan edit bumps its version; the spec carries it", async () => {
      const before = (await spec(c)).plan as { plan_version: number };
      await sql`update public.fly_plans set memory_mb = 1024 where tier = 'pro'`;
      await sql`update public.fly_plans set memory_mb = 1024 where tier = 'pro'`; // no change: no bump
      assertEquals(((await spec(c)).plan as { plan_version: number }).plan_version, before.plan_version + 1);
    });

    await t.step(
      "an override or hold recorded during an attempt leaves the row due (found by the property test)",
      async () => {
        for (const change of ["override", "hold"] as const) {
          await sql`update public.user_fly_apps set next_attempt_at = now() where user_id = ${d}`;
          const [{ row }] = await sql<{ row: { id: string; desired_generation: number } }[]>`
          select private.claim_user_fly_app(${d}, 'attempt', 30) -> 'app' as row`;
          if (change === "override") {
            await sql`select private.set_user_fly_app_override(${d}, ${
              sql.json({ region: "ams" })
            }, 'ops:ann', 'x')`;
          } else {
            await sql`select private.set_user_fly_app_hold(${d}, true, 'ops:ann', 'x')`;
          }
          // The attempt converged on what it read before the change and records that.
          await sql`select private.record_outcome(${row.id}, 'attempt', ${row.desired_generation},
                  ${
            sql.json({ next_attempt_at: null, observed_generation: Number(row.desired_generation) })
          })`;
          const [after] = await sql`select next_attempt_at is not null as due from public.user_fly_apps
                                  where user_id = ${d}`;
          assertEquals(after.due, true, `${change}: still due`);
        }
      },
    );

    await t.step("an override is validated, stored with its actor and makes the row due", async () => {
      for (const fields of [{ cpus: 99 }, { region: "Paris" }, { colour: "red" }, { image: "a b" }]) {
        await assertRejects(
          () => sql`select private.set_user_fly_app_override(${c}, ${sql.json(fields)}, 'ops:ann', 'x')`,
          Error,
        );
      }
      assertEquals(
        (await sql`select 1 from public.user_fly_app_overrides where user_id = ${c}`).length,
        0,
        "nothing written",
      );
      await sql`select private.set_user_fly_app_override(${c}, ${
        sql.json({ memory_mb: 2048 })
      }, 'ops:ann', 'more')`;
      const [row] =
        await sql`select next_attempt_at is not null as due from public.user_fly_apps where user_id = ${c}`;
      assertEquals(row.due, true);
      assertEquals(((await spec(c)).override as { memory_mb: number }).memory_mb, 2048);
      await sql`select private.set_user_fly_app_override(${c}, ${
        sql.json({ image: "registry.fly.io/x:pin" })
      },
                                                         'ops:ann', 'pin')`;
      const [{ pinned }] = await sql`select private.has_image_override(${c}) as pinned`;
      assertEquals(pinned, true);
      await sql`select private.set_user_fly_app_override(${c}, '{}'::jsonb, 'ops:ann', 'done')`;
      assertEquals((await spec(c)).override, null);
      const types = await sql<{ event_type: string; actor: string }[]>`
        select event_type, metadata ->> 'actor' as actor from public.user_fly_app_events
        where user_id = ${c} and event_type like 'override_%' order by seq`;
      assertEquals(types.map((e) => [e.event_type, e.actor]), [
        ["override_set", "ops:ann"],
        ["override_set", "ops:ann"],
        ["override_cleared", "ops:ann"],
      ]);
    });
  } finally {
    await db.drop();
  }
});
