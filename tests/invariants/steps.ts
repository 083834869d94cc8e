/**
 * The steps of the property test, one entry per kind in {@link STEP_KINDS}. Each kind gives fast-check an
 * arbitrary of its steps; a step updates the model the way the product's rules say (`check` says when it
 * applies) and acts on the real stack.
 *
 * To add a kind (another issue's feature): write a `StepKind` with a name, an optional `weight` and an
 * `arbitrary(users)` that maps drawn values to `step(label, { check?, run })`, and add it to `STEP_KINDS`. `run` gets the model and
 * the world: change the model only as far as the product promises (what the invariants in `invariants.ts`
 * then expect), and undo in `settle()` (`property.test.ts`) anything that must stop before the system can
 * converge (as faults and dropped kicks do). The label is what a failure prints, so make it replayable by
 * eye: kind, user index, values.
 *
 * @module
 */
import fc from "fast-check";
import type { FaultAction } from "../../scripts/local/fly-emulator/mod.ts";
import { liveMachines } from "../e2e/_support.ts";
import { admin } from "../e2e/admin_support.ts";
import {
  type ImageKind,
  type Model,
  type OverrideFields,
  type PaidTier,
  type Size,
  type Tier,
  type World,
} from "./model.ts";

/** One step of a sequence. */
export class Step implements fc.AsyncCommand<Model, World> {
  constructor(
    readonly label: string,
    readonly body: { check?: (model: Model) => boolean; run: (model: Model, world: World) => Promise<void> },
  ) {}
  check(model: Readonly<Model>): boolean {
    return this.body.check?.(model as Model) ?? true;
  }
  async run(model: Model, world: World): Promise<void> {
    await this.body.run(model, world);
  }
  toString(): string {
    return this.label;
  }
}

/** Shorthand for a {@link Step}. */
export function step(label: string, body: Step["body"]): Step {
  return new Step(label, body);
}

/** A kind of step: its name, how often it is drawn, and the arbitrary of its steps over `users` user indexes. */
export interface StepKind {
  name: string;
  /** Relative frequency (default 1). */
  weight?: number;
  arbitrary(users: number): fc.Arbitrary<Step>;
}

/** The arbitraries fast-check's `commands` draws from, each kind repeated by its weight. */
export function stepArbitraries(kinds: StepKind[], users: number): fc.Arbitrary<Step>[] {
  return kinds.flatMap((kind) => Array.from({ length: kind.weight ?? 1 }, () => kind.arbitrary(users)));
}

const TIERS: Tier[] = ["free", "pro", "elite"];

/**
 * Sizes a plan edit moves each paid plan between (all valid on Fly). The two tiers never share a size, so a
 * machine left at its old tier's size after a tier change is always caught.
 */
export const PLAN_SIZES: Record<PaidTier, Size[]> = {
  pro: [{ cpu_kind: "shared", cpus: 2, memory_mb: 512 }, { cpu_kind: "shared", cpus: 1, memory_mb: 1024 }],
  elite: [{ cpu_kind: "performance", cpus: 1, memory_mb: 2048 }, {
    cpu_kind: "performance",
    cpus: 2,
    memory_mb: 4096,
  }],
};

/** Overrides ops may set (valid on Fly whatever the plan under them: they name a full size or none). */
const OVERRIDES: OverrideFields[] = [
  { cpu_kind: "shared", cpus: 4, memory_mb: 2048 },
  { region: "ams" },
  { image: "registry.fly.io/vyx-user-backend:pinned-fix" },
  { cpu_kind: "performance", cpus: 2, memory_mb: 4096, region: "fra" },
];

const FAULTS: { label: string; action: FaultAction }[] = [
  { label: "429", action: { type: "status", status: 429 } },
  { label: "429+retry-after", action: { type: "status", status: 429, retryAfterSeconds: 1 } },
  { label: "500", action: { type: "status", status: 500 } },
  { label: "503", action: { type: "status", status: 503 } },
  { label: "reset", action: { type: "reset" } },
  { label: "drop-response", action: { type: "drop-response" } },
  { label: "delay", action: { type: "delay", ms: 1_500 } },
];

/** Images a rollout step sends out, by what they do on the emulator (see scripts/local/fly-emulator/images.ts). */
const ROLLOUT_IMAGES: { image: string; kind: ImageKind }[] = [
  { image: "registry.fly.io/vyx-user-backend:b", kind: "good" },
  { image: "registry.fly.io/vyx-user-backend:c", kind: "good" },
  { image: "registry.fly.io/vyx-user-backend:b-broken", kind: "broken" },
  { image: "registry.fly.io/vyx-user-backend:b-crash", kind: "crash" },
];

/** A rollout's health gate in the test (the default is 300 s): a bad canary halts its rollout this fast. */
export const ROLLOUT_HEALTH_TIMEOUT_S = 3;

/** Sets one user's tier on a connection of its own; null deletes the subscription. */
async function writeTier(world: World, user: string, tier: Tier | null, how: "upsert" | "update" | "delete") {
  const sql = world.stack.sql;
  if (how === "delete" || tier === null) {
    await sql`delete from public.user_subscriptions where user_id = ${user}`;
  } else if (how === "update") {
    await sql`update public.user_subscriptions set tier = ${tier}, updated_at = now() where user_id = ${user}`;
  } else {
    await sql`insert into public.user_subscriptions (user_id, tier) values (${user}, ${tier})
              on conflict (user_id) do update set tier = excluded.tier, updated_at = now()`;
  }
}

/** The tier the database holds for `user` now (null: no subscription). */
async function storedTier(world: World, user: string): Promise<Tier | null> {
  const [row] = await world.stack.sql<{ tier: Tier }[]>`
    select tier from public.user_subscriptions where user_id = ${user}`;
  return row?.tier ?? null;
}

/** Every kind of step the property test draws from. */
export const STEP_KINDS: StepKind[] = [
  {
    name: "tier change (insert, update, upsert, delete)",
    weight: 4,
    arbitrary: (users) =>
      fc.record({
        u: fc.nat(users - 1),
        tier: fc.constantFrom(...TIERS),
        how: fc.constantFrom("upsert" as const, "update" as const, "delete" as const),
      }).map(({ u, tier, how }) =>
        step(`tier u${u} ${how}${how === "delete" ? "" : ` ${tier}`}`, {
          check: (m) => !m.deleted.has(m.users[u]),
          run: async (m, w) => {
            const user = m.users[u];
            await writeTier(w, user, how === "delete" ? null : tier, how);
            if (how === "delete") m.tier.set(user, null);
            else if (how === "upsert" || m.tier.get(user)) m.tier.set(user, tier);
          },
        })
      ),
  },
  {
    name: "burst: concurrent tier changes on separate connections",
    weight: 2,
    arbitrary: (users) =>
      fc.record({
        u: fc.nat(users - 1),
        tiers: fc.array(fc.constantFrom(...TIERS, null), { minLength: 2, maxLength: 5 }),
      })
        .map(({ u, tiers }) =>
          step(`burst u${u} ${tiers.map((t) => t ?? "delete").join(",")}`, {
            check: (m) => !m.deleted.has(m.users[u]),
            run: async (m, w) => {
              const user = m.users[u];
              await Promise.all(
                tiers.map((tier) => writeTier(w, user, tier, tier === null ? "delete" : "upsert")),
              );
              // Which write committed last is the database's call: the model follows it.
              m.tier.set(user, await storedTier(w, user));
            },
          })
        ),
  },
  {
    name: "account deletion",
    arbitrary: (users) =>
      fc.nat(users - 1).map((u) =>
        step(`delete account u${u}`, {
          check: (m) => !m.deleted.has(m.users[u]),
          run: async (m, w) => {
            const user = m.users[u];
            await w.stack.sql`delete from auth.users where id = ${user}`;
            m.deleted.add(user);
            m.tier.set(user, null);
            m.override.delete(user);
            m.held.delete(user);
          },
        })
      ),
  },
  {
    name: "plan edit (stays drift until a rollout)",
    arbitrary: () =>
      fc.record({ tier: fc.constantFrom<PaidTier>("pro", "elite"), i: fc.nat(PLAN_SIZES.pro.length - 1) })
        .map(({ tier, i }) => ({ tier, size: PLAN_SIZES[tier][i] }))
        .map(({ tier, size }) =>
          step(`plan ${tier} ${size.cpu_kind}/${size.cpus}/${size.memory_mb}`, {
            run: async (m, w) => {
              await w.stack.sql`update public.fly_plans set cpu_kind = ${size.cpu_kind}, cpus = ${size.cpus},
                                memory_mb = ${size.memory_mb} where tier = ${tier}`;
              m.planSizes[tier].push(size);
            },
          })
        ),
  },
  {
    name: "ops override set / cleared",
    arbitrary: (users) =>
      fc.record({
        u: fc.nat(users - 1),
        fields: fc.option(fc.constantFrom(...OVERRIDES), { nil: undefined }),
      })
        .map(({ u, fields }) =>
          step(`override u${u} ${fields ? JSON.stringify(fields) : "--clear"}`, {
            check: (m) => !m.deleted.has(m.users[u]),
            run: async (m, w) => {
              const user = m.users[u];
              await w.stack.sql`select private.set_user_fly_app_override(${user}, ${
                w.stack.sql.json(
                  (fields ?? {}) as Record<string, string | number>,
                )
              }, 'property-test', 'a customer needs it')`;
              if (fields?.region || m.override.get(user)?.region) m.regionChanged.add(user);
              if (fields) m.override.set(user, fields);
              else m.override.delete(user);
            },
          })
        ),
  },
  {
    name: "ops hold / release",
    arbitrary: (users) =>
      fc.record({ u: fc.nat(users - 1), held: fc.boolean() }).map(({ u, held }) =>
        step(`${held ? "hold" : "release"} u${u}`, {
          check: (m) => !m.deleted.has(m.users[u]),
          run: async (m, w) => {
            const user = m.users[u];
            try {
              await w.stack
                .sql`select private.set_user_fly_app_hold(${user}, ${held}, 'property-test', 'testing')`;
            } catch {
              return; // refused (no row, nothing to hold, already held): nothing changed
            }
            if (held) m.held.add(user);
            else m.held.delete(user);
          },
        })
      ),
  },
  {
    name: "Fly fault (429 with and without Retry-After, 5xx, reset, dropped response, delay)",
    arbitrary: () =>
      fc.record({ fault: fc.constantFrom(...FAULTS), times: fc.integer({ min: 1, max: 6 }) }).map((
        { fault, times },
      ) =>
        step(`fault ${fault.label} x${times}`, {
          run: async (_m, w) => {
            await w.stack.flyControl.addFault({ operation: "*", action: fault.action, times });
          },
        })
      ),
  },
  {
    name: "function crash (the gateway and its workers killed)",
    arbitrary: () =>
      fc.constant(step("crash functions", {
        run: async (_m, w) => {
          w.kills.push(await w.stack.killAndRestartFunctions());
        },
      })),
  },
  {
    name: "dropped kicks (pg_net loses a share of its requests)",
    arbitrary: () =>
      fc.constantFrom(0, 0.5, 1).map((share) =>
        step(`drop kicks ${share}`, {
          run: async (_m, w) => {
            await w.stack.sql`update proptest.kick_drop set share = ${share}`;
          },
        })
      ),
  },
  {
    name: "machine forced stopped / failed behind the engine's back",
    arbitrary: (users) =>
      fc.record({ u: fc.nat(users - 1), state: fc.constantFrom("stopped" as const, "failed" as const) })
        .map(({ u, state }) =>
          step(`force u${u} ${state}`, {
            run: async (m, w) => {
              for (const app of await w.stack.appsOf(m.users[u])) {
                for (const machine of liveMachines(app)) {
                  await w.stack.flyControl.forceMachineState(app.name, machine.id, state).catch(() => {});
                }
              }
            },
          })
        ),
  },
  {
    name: "drainer stalled (pg_cron late: the tier outbox is not drained until it resumes)",
    arbitrary: () =>
      fc.constant(step("stall drainer", {
        check: (m) => !m.drainerStalled,
        run: async (m, w) => {
          const conn = await w.stack.sql.reserve();
          await conn`select pg_advisory_lock(hashtext('private.drain_tier_outbox'))`;
          m.drainerStalled = true;
          w.resumeDrainer = async () => {
            w.resumeDrainer = undefined;
            await conn`select pg_advisory_unlock(hashtext('private.drain_tier_outbox'))`;
            conn.release();
          };
        },
      })),
  },
  {
    name: "drainer resumes",
    arbitrary: () =>
      fc.constant(step("resume drainer", {
        check: (m) => m.drainerStalled,
        run: async (m, w) => {
          m.drainerStalled = false;
          await w.resumeDrainer?.();
        },
      })),
  },
  {
    name: "ops reconcile now (`ops provision USER`)",
    weight: 2,
    arbitrary: (users) =>
      fc.nat(users - 1).map((u) =>
        step(`ops reconcile u${u}`, {
          run: async (m, w) => {
            await w.stack.call("provision-user-fly-app", { body: { user_id: m.users[u] }, wait: true });
          },
        })
      ),
  },
  {
    name: "fleet rollout of a good, -broken or -crash image (admin API, all tiers, canary 1)",
    weight: 3,
    arbitrary: () =>
      fc.constantFrom(...ROLLOUT_IMAGES).map(({ image, kind }) =>
        step(`rollout ${image.split(":").at(-1)}`, {
          run: async (m, w) => {
            const answer = await admin(w.stack, "/rollouts", {
              method: "POST",
              body: {
                image,
                canary: 1,
                batch: 5,
                health_timeout_s: ROLLOUT_HEALTH_TIMEOUT_S,
                reason: "property",
              },
              actor: "property-test",
            });
            // 409: another rollout is still active; nothing started.
            if (answer.status === 201) {
              m.rollouts.push({ id: answer.body.rollout.id, image, kind, rollbackRequested: false });
            } else if (answer.status !== 409) {
              throw new Error(`rollout start answered ${answer.status}: ${JSON.stringify(answer.body)}`);
            }
          },
        })
      ),
  },
  {
    name: "rollback of the latest rollout (admin API)",
    weight: 3,
    arbitrary: () =>
      fc.constant(step("rollback latest rollout", {
        check: (m) => m.rollouts.length > 0,
        run: async (m, w) => {
          const rollout = m.rollouts.at(-1)!;
          const answer = await admin(w.stack, `/rollouts/${rollout.id}/rollback`, {
            method: "POST",
            actor: "property-test",
          });
          // 409: its state allows no rollback now; nothing changed.
          if (answer.status === 200) rollout.rollbackRequested = true;
          else if (answer.status !== 409) {
            throw new Error(`rollback answered ${answer.status}: ${JSON.stringify(answer.body)}`);
          }
        },
      })),
  },
  {
    name: "health sweep",
    arbitrary: () => fc.constant(step("sweep", { run: async (_m, w) => void await w.stack.sweep() })),
  },
  {
    name: "pause (lets reconciles run, so the next step lands mid-reconcile)",
    weight: 2,
    arbitrary: () =>
      fc.integer({ min: 50, max: 1_500 }).map((ms) =>
        step(`pause ${ms}ms`, { run: () => new Promise((resolve) => setTimeout(resolve, ms)) })
      ),
  },
];

/** SQL the test runs once on its database: the switch behind the dropped-kicks step. */
export const SETUP_SQL = `
  create schema if not exists proptest;
  create table if not exists proptest.kick_drop (share double precision not null default 0);
  insert into proptest.kick_drop select 0 where not exists (select 1 from proptest.kick_drop);
  create or replace function proptest.drop_kick() returns trigger language plpgsql as $$
  begin
    if random() < (select share from proptest.kick_drop limit 1) then return null; end if;
    return new;
  end $$;
  drop trigger if exists proptest_drop_kick on net.http_request_queue;
  create trigger proptest_drop_kick before insert on net.http_request_queue
    for each row execute function proptest.drop_kick();
`;

/** Each user's tier at the start of a sequence (null: no subscription). */
export function initialTiers(users: number): fc.Arbitrary<(Tier | null)[]> {
  // Elite twice: its plan has the volume the data steps act on.
  return fc.array(fc.constantFrom<Tier | null>("pro", "elite", "elite", "free", null), {
    minLength: users,
    maxLength: users,
  });
}
