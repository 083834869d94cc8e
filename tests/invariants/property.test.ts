/**
 * The model-based property test (fast-check commands) over the real local stack with the project's default
 * settings: random sequences of the steps in `steps.ts` (tier changes of every kind, bursts, account
 * deletions, plan edits, overrides, holds, fleet rollouts of good, `-broken` and `-crash` images and their
 * rollbacks, Fly faults, function crashes, dropped kicks, a stalled drainer, ops reconciles, machines forced
 * down behind the engine's back, sweeps, pauses) against fresh users; then faults stop, the sequence's
 * rollouts end (halted ones rolled back), and the system must converge within {@link MAX_SETTLE_SWEEPS}
 * sweeps, after which every invariant of `invariants.ts` holds.
 *
 * `PROPERTY_RUNS` sequences (default 3, which fits in about 90 s), of at most `PROPERTY_STEPS` steps
 * (default 10) over `PROPERTY_USERS` users (default 3). A failure is shrunk and printed with its seed and a
 * one-line replay (`PROPERTY_SEED=… PROPERTY_PATH=…`); `PROPERTY_VERBOSE=1` prints every sequence,
 * `PROPERTY_DEBUG=1` the rollouts, targets and events of a failing one.
 *
 * Settling goes faster than the defaults would without changing what converges: the leases of killed
 * processes are expired at once (instead of after 30 s) and backed-off rows made due (instead of up to
 * 5 minutes later).
 */
import fc from "fast-check";
import { startStack } from "../e2e/_support.ts";
import { admin } from "../e2e/admin_support.ts";
import {
  ELITE_VOLUME,
  HOST_RECOVERY_AFTER_S,
  type Model,
  newModel,
  resolveRollouts,
  START_PLAN_SIZES,
  type World,
} from "./model.ts";
import { initialTiers, SETUP_SQL, STEP_KINDS, stepArbitraries } from "./steps.ts";
import { DATA_STEP_KINDS, reviveHosts } from "./data_steps.ts";
import { invariantViolations } from "./invariants.ts";

const RUNS = Number(Deno.env.get("PROPERTY_RUNS") ?? 3);
const STEPS = Number(Deno.env.get("PROPERTY_STEPS") ?? 10);
const USERS = Number(Deno.env.get("PROPERTY_USERS") ?? 3);
const SEED = Deno.env.get("PROPERTY_SEED");
const PATH = Deno.env.get("PROPERTY_PATH");
/** Print every sequence as it runs. */
const VERBOSE = Deno.env.get("PROPERTY_VERBOSE") === "1";
/** Print the rollouts, their targets and the users' events of a sequence that broke an invariant. */
const DEBUG = Deno.env.get("PROPERTY_DEBUG") === "1";
/** Sweeps the system gets to converge once the sequence ends and its faults stop. */
const MAX_SETTLE_SWEEPS = 10;
/**
 * The pause between settling sweeps while something is unsettled (a sweep can take well under a second): ten
 * of them outlast one 15 s wait of a reconcile on a machine that a dying host stopped mid-boot.
 */
const SETTLE_PAUSE_MS = 2_000;
/** The lease the functions use by default: a killed process's leases end this long after it took them. */
const LEASE_SECONDS = 30;

/** The events tallied over all sequences and printed at the end: what the data steps made happen. */
const TALLIED_EVENTS = [
  "volume_created",
  "volume_snapshotted",
  "volume_deleted",
  "volume_restored",
  "volume_restore_unavailable",
  "volume_reverted",
  "host_recovered",
  "volume_kept_expired",
];

/** How long the sequence's rollouts get to end once its faults stop (gates are a few seconds here). */
const ROLLOUT_SETTLE_MS = 90_000;

/**
 * Drives the sequence's rollouts to their end with sweeps (as pg_cron would, faster), rolling back any that
 * halted (as the operator its alert pages would); null once all ended, else what is still open.
 */
async function settleRollouts(world: World, model: Model): Promise<string | null> {
  const { stack } = world;
  const ids = model.rollouts.map((r) => r.id);
  const until = Date.now() + ROLLOUT_SETTLE_MS;
  while (ids.length > 0) {
    for (const killedAt of world.kills) {
      await stack.sql`update public.fly_rollouts set lease_expires_at = now() - interval '1 second'
        where id = any(${ids}::uuid[]) and lease_expires_at > now()
          and lease_expires_at <= ${new Date(killedAt.getTime() + LEASE_SECONDS * 1000)}`;
    }
    const open = await stack.sql<{ id: string; state: string; error: string | null }[]>`
      select id, state, error from public.fly_rollouts
      where id = any(${ids}::uuid[]) and state not in ('completed', 'rolled_back', 'aborted')`;
    if (open.length === 0) return null;
    if (Date.now() > until) return `rollouts still open: ${JSON.stringify(open)}`;
    for (const { id } of open.filter((r) => r.state === "halted")) {
      const answer = await admin(stack, `/rollouts/${id}/rollback`, {
        method: "POST",
        actor: "property-test",
      });
      if (answer.status !== 200) return `rollback of halted ${id} answered ${answer.status}`;
    }
    await stack.sql`update public.user_fly_apps set next_attempt_at = now() where next_attempt_at > now()`;
    await stack.sweep();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return null;
}

/** What {@link DEBUG} prints of a failed sequence: its rollouts and their targets, its users' rows, volume moves and events. */
async function dumpSequence(world: World, model: Model): Promise<void> {
  const { sql } = world.stack;
  const ids = model.rollouts.map((r) => r.id);
  console.log(JSON.stringify({
    rollouts: await sql`select to_jsonb(r) - 'target' as rollout from public.fly_rollouts r
                        where id = any(${ids}::uuid[]) order by created_at`,
    targets: await sql`select user_id, batch, state, skip_reason, error, image_digest
                       from public.fly_rollout_targets where rollout_id = any(${ids}::uuid[])`,
    rows: await sql`select user_id, status, desired_state, desired_generation, observed_generation,
                           next_attempt_at, lease_owner, retry_count, error_message
                    from public.user_fly_apps where user_id = any(${model.users}::uuid[])`,
    moves: await sql`select user_id, kind, state, kept_state, from_volume_id, to_volume_id
                     from public.user_fly_volume_moves where user_id = any(${model.users}::uuid[])`,
    events: await sql`select e.user_id, e.seq, e.event_type, e.created_at, e.metadata
                      from public.user_fly_app_events e where e.user_id = any(${model.users}::uuid[])
                      order by e.seq`,
  }));
}

/** Sweeps while hosts are dead: at most this many, a second apart, so recoveries pass HOST_RECOVERY_AFTER_S. */
const DEAD_HOST_SWEEPS = 2 * HOST_RECOVERY_AFTER_S + 2;

/**
 * Lets the sequence's lost hosts be recovered (sweeps a second apart until no recovery is pending), then
 * brings the hosts back, as a host that died eventually is repaired or replaced.
 */
async function settleHosts(world: World, model: Model): Promise<void> {
  if (model.deadHosts.size === 0) return;
  for (let sweep = 1; sweep <= DEAD_HOST_SWEEPS; sweep++) {
    await world.stack
      .sql`update public.user_fly_apps set next_attempt_at = now() where next_attempt_at > now()`;
    await world.stack.sweep();
    const [{ pending }] = await world.stack.sql<{ pending: number }[]>`
      select count(*)::int as pending from public.user_fly_volume_moves
      where kind = 'recovery' and state = 'pending' and user_id = any(${model.users}::uuid[])`;
    if (pending === 0 && sweep > 1) break;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  reviveHosts(model, world);
}

/**
 * Ends what the sequence started that must stop for the system to converge, then sweeps until settled: no
 * reconcile due or in flight, every generation observed except where the outcome was terminal (`error`, left
 * for an operator: the invariants then say whether that refusal was one the product makes on purpose).
 */
async function settle(world: World, model: Model): Promise<string | null> {
  const { stack } = world;
  const users = model.users;
  await world.resumeDrainer?.();
  await stack.flyControl.clearFaults();
  await stack.sql`update proptest.kick_drop set share = 0`;
  const rollouts = await settleRollouts(world, model);
  if (rollouts) return rollouts;
  await settleHosts(world, model);
  for (let sweep = 1; sweep <= MAX_SETTLE_SWEEPS; sweep++) {
    for (const killedAt of world.kills) {
      await stack.sql`update public.user_fly_apps set lease_expires_at = now() - interval '1 second'
        where lease_expires_at > now()
          and lease_expires_at <= ${new Date(killedAt.getTime() + LEASE_SECONDS * 1000)}`;
    }
    await stack.sql`update public.user_fly_apps set next_attempt_at = now() where next_attempt_at > now()`;
    await stack.sweep();
    const [{ unsettled, queued }] = await stack.sql<{ unsettled: number; queued: number }[]>`
      select (select count(*)::int from public.user_fly_apps a
              where a.user_id = any(${users}::uuid[])
                and ((a.observed_generation < a.desired_generation and a.status <> 'error')
                     or a.next_attempt_at is not null or a.lease_owner is not null)) as unsettled,
             (select count(*)::int from private.tier_outbox) as queued`;
    if (unsettled === 0 && queued === 0) {
      await stack.sweep(); // one more: the safety net must find nothing left to do
      return null;
    }
    // A reconcile in flight may be waiting out Fly's refusals or a wait chunk: give it time between sweeps.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_PAUSE_MS));
  }
  return `not settled after ${MAX_SETTLE_SWEEPS} sweeps`;
}

Deno.test({
  name: "property: every invariant holds after any sequence",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const stack = await startStack({ functionEnv: { HOST_RECOVERY_AFTER_S: String(HOST_RECOVERY_AFTER_S) } });
    const known: string[] = [];
    try {
      await stack.sql.unsafe(SETUP_SQL);
      const world: World = {
        stack,
        kills: [],
        defaultImage: stack.services.functionEnv.FLY_APP_IMAGE ?? "registry.fly.io/vyx-user-backend:latest",
      };
      const kinds = [...STEP_KINDS, ...DATA_STEP_KINDS];
      const commands = fc.commands(stepArbitraries(kinds, USERS), { maxCommands: STEPS, size: "max" });
      let runs = 0;
      const tally = new Map<string, number>();
      const property = fc.asyncProperty(initialTiers(USERS), commands, async (tiers, cmds) => {
        runs++;
        for (const [tier, size] of Object.entries(START_PLAN_SIZES)) {
          await stack.sql`update public.fly_plans set cpu_kind = ${size.cpu_kind}, cpus = ${size.cpus},
                          memory_mb = ${size.memory_mb}, image = null where tier = ${tier}`;
        }
        await stack
          .sql`update public.fly_plans set volume_size_gb = null, volume_mount_path = null where tier <> 'elite'`;
        await stack.sql`update public.fly_plans set ${stack.sql(ELITE_VOLUME)} where tier = 'elite'`;
        const users = await stack.newUsers(USERS);
        known.push(...users);
        const model = newModel(users);
        world.kills = [];
        // The users start on their drawn tiers, in one statement (not waited for: the steps race it).
        const start = users.map((user, i) => ({ user, tier: tiers[i] })).filter((s) => s.tier !== null);
        if (start.length > 0) {
          await stack.sql`insert into public.user_subscriptions (user_id, tier)
            select * from unnest(${start.map((s) => s.user)}::uuid[], ${start.map((s) => s.tier!)}::text[])`;
        }
        for (const { user, tier } of start) model.tier.set(user, tier);
        await fc.asyncModelRun(() => ({ model, real: world }), cmds);
        if (VERBOSE) console.log(`sequence ${runs}: start ${JSON.stringify(tiers)}; ${cmds.toString()}`);
        const unsettled = await settle(world, model);
        const violations = unsettled
          ? [unsettled]
          : [...await resolveRollouts(model, world), ...await invariantViolations(model, world, known)];
        for (
          const { event_type, n } of await stack.sql<{ event_type: string; n: number }[]>`
            select event_type, count(*)::int as n from public.user_fly_app_events
            where user_id = any(${users}::uuid[]) and event_type = any(${TALLIED_EVENTS}) group by 1`
        ) tally.set(event_type, (tally.get(event_type) ?? 0) + n);
        if (violations.length > 0 && VERBOSE) console.log(`  violations:\n  ${violations.join("\n  ")}`);
        if (violations.length > 0 && DEBUG) await dumpSequence(world, model);
        if (violations.length > 0) throw new Error(violations.join("\n"));
      });
      const details = await fc.check(property, {
        numRuns: RUNS,
        ...(SEED ? { seed: Number(SEED) } : {}),
        ...(PATH ? { path: PATH } : {}),
        endOnFailure: Deno.env.get("PROPERTY_SHRINK") === "0",
      });
      console.log(`property: ${runs} sequences run (PROPERTY_RUNS=${RUNS}, shrinking included)`);
      console.log(
        `property: events over the sequences: ${
          TALLIED_EVENTS.map((t) => `${t}=${tally.get(t) ?? 0}`).join(" ")
        }`,
      );
      if (details.failed) {
        const replay = `PROPERTY_SEED=${details.seed} PROPERTY_PATH=${details.counterexamplePath} ` +
          `npx --yes deno@2.9.6 task test tests/invariants/property.test.ts`;
        throw new Error(
          `${fc.defaultReportMessage(details)}\nviolations:\n${
            (details.errorInstance as Error | undefined)?.message ?? "?"
          }\nseed ${details.seed}; replay: ${replay}`,
        );
      }
    } finally {
      await stack.stop();
    }
  },
});
