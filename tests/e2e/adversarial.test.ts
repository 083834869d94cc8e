/**
 * A seeded adversarial run through the whole stack, using only HTTP (functions, emulator control routes) and
 * SQL, so it holds whatever the engine's internals look like. Each round mixes, at random: tier flips (some
 * with their kick dropped, as pg_net may lose it), injected Machines API faults (429, 5xx, connection resets,
 * responses dropped after the request was processed), machines forced to stopped or failed behind the
 * functions' back, a SIGKILL of the functions' process (restarted at once), and health sweeps. Then faults
 * stop and sweeps drive everything home, and the invariants must hold:
 *
 * - every paid user has exactly one app with exactly one machine, started; every free user has none;
 * - no orphan app (every app belongs to a paid user of this run; the sweep's orphan scan finds none);
 * - never two live machines in one app, at any moment observed during the run;
 * - no secret value in rows, events, function responses, pg_net responses or logs.
 *
 * Small by default (ADVERSARIAL_ROUNDS=4, ADVERSARIAL_USERS=4); raise them for a longer run. A failure prints
 * the seed; ADVERSARIAL_SEED=<seed> replays the same choices.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { waitFor } from "../_support/wait.ts";
import type { FaultAction } from "../../scripts/local/fly-emulator/mod.ts";
import { appNameCandidate } from "../../supabase/functions/_shared/engine/app_name.ts";
import { assertAbsent, liveMachines, type Stack, startStack } from "./_support.ts";

const ROUNDS = Number(Deno.env.get("ADVERSARIAL_ROUNDS") ?? 4);
const USERS = Number(Deno.env.get("ADVERSARIAL_USERS") ?? 4);
const SEED = Number(Deno.env.get("ADVERSARIAL_SEED") ?? Math.floor(Math.random() * 2 ** 32));
/** The shortest lease the functions accept: a killed reconciler's users are free again soonest. */
const LEASE_SECONDS = 30;
/** Sweeps allowed to converge once the chaos stops. */
const MAX_FINAL_SWEEPS = 8;

type Tier = "free" | "pro" | "elite";
const TIERS: Tier[] = ["free", "pro", "elite"];
const FAULTS: FaultAction[] = [
  { type: "status", status: 429 },
  { type: "status", status: 500 },
  { type: "status", status: 502 },
  { type: "status", status: 503 },
  { type: "reset" },
  { type: "drop-response" },
];

/** mulberry32: a small seeded PRNG, so a seed replays the same run. */
function seededRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
  };
}

/** The run: the stack, the choices made, and everything observed on the way. */
interface Run {
  stack: Stack;
  random: ReturnType<typeof seededRandom>;
  users: string[];
  /** Each user's app name candidates (an app of another name is an orphan). */
  candidates: Map<string, string[]>;
  /** What was done, in order: printed with a failure. */
  actions: string[];
  /** Every function response body seen. */
  responses: string[];
  /** Times of the SIGKILLs, for the leases the dead process held. */
  kills: Date[];
  /** The kinds of trouble that happened. */
  done: Set<Trouble>;
}

/** Fails when any app ever shows two live machines: checked after every action. */
async function assertNoDuplicateMachine(run: Run, when: string): Promise<void> {
  for (const app of (await run.stack.flyControl.state()).apps) {
    const live = liveMachines(app);
    assert(
      live.length <= 1,
      `${when}: app ${app.name} has ${live.length} live machines ${JSON.stringify(live)}`,
    );
  }
}

/** Sets a tier; with `dropKick` the trigger's pg_net request is deleted in the same transaction (lost). */
async function flipTier(run: Run, user: string, tier: Tier, dropKick: boolean): Promise<void> {
  await run.stack.sql.begin(async (tx) => {
    await tx`insert into public.user_subscriptions (user_id, tier) values (${user}, ${tier})
             on conflict (user_id) do update set tier = excluded.tier, updated_at = now()`;
    if (dropKick) {
      await tx`delete from net.http_request_queue
               where convert_from(body, 'utf8')::jsonb ->> 'user_id' = ${user}`;
    }
  });
}

/** The (app, machine) pairs the emulator has for our users' apps, live machines only. */
async function liveMachinesOfUsers(run: Run): Promise<{ app: string; machine: string }[]> {
  const names = new Set([...run.candidates.values()].flat());
  return (await run.stack.flyControl.state()).apps
    .filter((app) => names.has(app.name))
    .flatMap((app) => liveMachines(app).map((m) => ({ app: app.name, machine: m.id })));
}

/** Leases taken before a kill belong to a dead process: let them run out now instead of in 30 s. */
async function expireLeasesOfKilledProcesses(run: Run): Promise<void> {
  for (const killedAt of run.kills) {
    const claimedBefore = new Date(killedAt.getTime() + LEASE_SECONDS * 1000);
    await run.stack.sql`update public.user_fly_apps set lease_expires_at = now() - interval '1 second'
      where lease_expires_at > now() and lease_expires_at <= ${claimedBefore}`;
  }
}

/** Makes backed-off rows due now, so each sweep retries them (the backoff itself is tested elsewhere). */
async function skipBackoff(run: Run): Promise<void> {
  await run.stack.sql`update public.user_fly_apps set next_attempt_at = now() where next_attempt_at > now()`;
}

/** One sweep through the function; 200 is required even under faults. */
async function sweep(run: Run, when: string): Promise<Record<string, unknown>> {
  const answer = await run.stack.call("check-fly-apps-health", { body: { budget_ms: 20_000 }, wait: true });
  run.responses.push(JSON.stringify(answer.body));
  assertEquals(answer.status, 200, `${when}: sweep answered ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** The kinds of trouble; each round does one of them for sure (in turn), then a few picked at random. */
type Trouble = "fault" | "lost kick" | "machine crash" | "kill";
const TROUBLES: Trouble[] = ["fault", "lost kick", "machine crash", "kill"];

/** Adds one fault rule (random kind, 5-20 % of all requests). */
async function injectFault(run: Run, round: number): Promise<void> {
  const action = run.random.pick(FAULTS);
  const probability = Math.round((0.05 + run.random.next() * 0.15) * 100) / 100;
  await run.stack.flyControl.addFault({ operation: "*", action, probability });
  run.actions.push(`r${round}: fault ${JSON.stringify(action)} p=${probability}`);
  run.done.add("fault");
}

/** Flips a random user to a random tier, its kick lost when `dropKick`. */
async function randomFlip(run: Run, round: number, dropKick: boolean): Promise<void> {
  const user = run.random.pick(run.users);
  const tier = run.random.pick(TIERS);
  await flipTier(run, user, tier, dropKick);
  run.actions.push(`r${round}: ${user.slice(0, 8)} -> ${tier}${dropKick ? " (kick dropped)" : ""}`);
  if (dropKick) run.done.add("lost kick");
}

/**
 * Forces a random live machine of ours to stopped or failed. When `required` and every user happens to be
 * free, a user is upgraded and a sweep run first, so there is a machine to crash.
 */
async function crashMachine(run: Run, round: number, required = false): Promise<void> {
  let live = await liveMachinesOfUsers(run);
  if (live.length === 0 && required) {
    await flipTier(run, run.random.pick(run.users), "pro", false);
    await sweep(run, `round ${round}, making a machine to crash`);
    live = await liveMachinesOfUsers(run);
  }
  if (live.length === 0) {
    run.actions.push(`r${round}: no live machine to crash`);
    return;
  }
  const target = run.random.pick(live);
  const state = run.random.pick(["stopped", "failed"] as const);
  await run.stack.flyControl.forceMachineState(target.app, target.machine, state);
  run.actions.push(`r${round}: machine ${target.machine} of ${target.app} forced ${state}`);
  run.done.add("machine crash");
}

/** SIGKILLs the functions after a moment (kicks in flight), and restarts them. */
async function killFunctions(run: Run, round: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, run.random.int(0, 300)));
  run.kills.push(await run.stack.killAndRestartFunctions());
  run.actions.push(`r${round}: functions SIGKILLed and restarted`);
  run.done.add("kill");
}

/** One round of chaos, ending with a sweep. */
async function chaosRound(run: Run, round: number): Promise<void> {
  const { random } = run;
  const sure = TROUBLES[(round - 1) % TROUBLES.length];
  if (sure === "fault" || random.chance(0.4)) await injectFault(run, round);
  if (sure === "lost kick") await randomFlip(run, round, true);
  if (sure === "machine crash") await crashMachine(run, round, true);
  const steps = random.int(2, 5);
  for (let step = 0; step < steps; step++) {
    const what = random.next();
    if (what < 0.5) await randomFlip(run, round, random.chance(0.3));
    else if (what < 0.7) await crashMachine(run, round);
    else if (what < 0.85) await killFunctions(run, round);
    else {
      await sweep(run, `round ${round}`);
      run.actions.push(`r${round}: sweep`);
    }
    await assertNoDuplicateMachine(run, `round ${round} after "${run.actions.at(-1)}"`);
  }
  if (sure === "kill") await killFunctions(run, round);
  await sweep(run, `end of round ${round}`);
  run.actions.push(`r${round}: sweep`);
  await assertNoDuplicateMachine(run, `end of round ${round}`);
  await run.stack.flyControl.clearFaults();
}

/** True when Fly and the rows match every user's current tier, with no work left. */
async function converged(run: Run): Promise<string | true> {
  const state = await run.stack.flyControl.state();
  for (const user of run.users) {
    const [{ tier }] = await run.stack.sql<{ tier: Tier }[]>`
      select tier from public.user_subscriptions where user_id = ${user}`;
    const apps = state.apps.filter((app) => run.candidates.get(user)!.includes(app.name));
    const row = await run.stack.row(user);
    if (tier === "free") {
      if (apps.length > 0) return `free user ${user} still has ${apps.map((a) => a.name)}`;
      if (row && row.status !== "deleted") return `free user ${user}: row ${row.status}`;
      continue;
    }
    if (!row || row.status !== "active" || row.lease_owner !== null || row.next_attempt_at !== null) {
      return `paid user ${user}: row ${JSON.stringify(row)}`;
    }
    if (row.observed_generation < row.desired_generation) return `paid user ${user}: generation behind`;
    if (apps.length !== 1 || apps[0].name !== row.fly_app_name) {
      return `paid user ${user}: apps ${apps.map((a) => a.name)} vs row ${row.fly_app_name}`;
    }
    const live = liveMachines(apps[0]);
    if (live.length !== 1 || live[0].id !== row.machine_id || live[0].state !== "started") {
      return `paid user ${user}: machines ${JSON.stringify(live.map((m) => [m.id, m.state]))}`;
    }
  }
  return true;
}

/** Every place a secret could leak to, as one text per place. */
async function leakSurfaces(run: Run): Promise<Record<string, string>> {
  const [rows] = await run.stack.sql`select
    coalesce((select string_agg(to_jsonb(a)::text, E'\\n') from public.user_fly_apps a), '') as apps,
    coalesce((select string_agg(to_jsonb(e)::text, E'\\n') from public.user_fly_app_events e), '') as events,
    coalesce((select string_agg(coalesce(content, '') || coalesce(error_msg, ''), E'\\n')
              from net._http_response), '') as net_responses`;
  return {
    "user_fly_apps rows": rows.apps,
    "user_fly_app_events": rows.events,
    "pg_net responses": rows.net_responses,
    "function responses": run.responses.join("\n"),
    "function logs": run.stack.logs.join("\n"),
  };
}

Deno.test(`adversarial: ${ROUNDS} seeded rounds of flips, lost kicks, faults, crashes and kills converge`, async () => {
  const stack = await startStack({
    emulator: { faultSeed: SEED },
    functionEnv: { RECONCILE_LEASE_SECONDS: String(LEASE_SECONDS), LOG_LEVEL: "info" },
  });
  const users = await stack.newUsers(USERS);
  const naming = stack.naming;
  const candidates = new Map<string, string[]>();
  for (const user of users) {
    candidates.set(user, await Promise.all([0, 1, 2, 3, 4].map((i) => appNameCandidate(user, i, naming))));
  }
  const run: Run = {
    stack,
    random: seededRandom(SEED),
    users,
    candidates,
    actions: [],
    responses: [],
    kills: [],
    done: new Set(),
  };
  try {
    // Everyone starts paid, so there are machines to crash from the first round on.
    for (const user of users) await flipTier(run, user, run.random.pick(["pro", "elite"] as const), false);
    run.actions.push("initial tiers set");
    for (let round = 1; round <= ROUNDS; round++) await chaosRound(run, round);
    if (ROUNDS >= TROUBLES.length) {
      // (A crash can only be skipped when faults kept the one upgraded user from getting a machine.)
      const crashSkipped = run.actions.some((action) => action.endsWith("no live machine to crash"));
      const expected = TROUBLES.filter((t) => t !== "machine crash" || !crashSkipped);
      for (const trouble of expected) assert(run.done.has(trouble), `the run had a ${trouble}`);
    }

    // The chaos stops (each round's faults were cleared at its end); sweeps must bring everything home.
    let verdict: string | true = "not checked";
    for (let i = 1; i <= MAX_FINAL_SWEEPS; i++) {
      await waitFor("no reconcile of a live process in flight", async () => {
        await expireLeasesOfKilledProcesses(run);
        const [{ leased }] = await stack.sql`
          select count(*)::int as leased from public.user_fly_apps where lease_expires_at > now()`;
        return leased === 0;
      }, 30_000);
      await skipBackoff(run);
      await sweep(run, `final sweep ${i}`);
      await assertNoDuplicateMachine(run, `final sweep ${i}`);
      verdict = await converged(run);
      if (verdict === true) break;
    }
    assert(verdict === true, `not converged after ${MAX_FINAL_SWEEPS} sweeps: ${verdict}`);

    // No orphans: every app is a paid user's one app, and the orphan scan agrees.
    const state = await stack.flyControl.state();
    const ours = new Set([...candidates.values()].flat());
    assertEquals(state.apps.filter((app) => !ours.has(app.name)).map((a) => a.name), [], "apps of no user");
    const paid = await stack.sql<{ user_id: string }[]>`
      select user_id from public.user_subscriptions where user_id = any(${users}) and tier <> 'free'`;
    assertEquals(state.apps.length, paid.length, "one app per paid user, none per free user");
    const report = await sweep(run, "orphan check") as { orphans: { found: string[] } };
    assertEquals(report.orphans.found, [], "the sweep's orphan scan");

    const sensitive = [
      ...stack.secrets.sensitive,
      stack.services.provisionerSecret,
      stack.services.functionEnv.FLY_API_TOKEN,
    ];
    for (const [where, text] of Object.entries(await leakSurfaces(run))) assertAbsent(text, sensitive, where);
  } catch (error) {
    const replay = `ADVERSARIAL_SEED=${SEED} ADVERSARIAL_ROUNDS=${ROUNDS} ADVERSARIAL_USERS=${USERS}`;
    console.error(`adversarial run failed; replay with ${replay}\nactions:\n  ${run.actions.join("\n  ")}`);
    throw new Error(`${(error as Error).message} (replay: ${replay})`, { cause: error });
  } finally {
    await stack.stop();
  }
});
