/**
 * What must hold once a sequence has settled, checked against the model: every paid user has exactly one app
 * with exactly one machine running the size, region and image override ⊕ plan ⊕ rollout say (started, or stopped while
 * held); every free user has no app and a `deleted` row; every row's status agrees with Fly; no app of ours
 * belongs to nobody; each user's events are ordered and their last outcome matches the final state; no
 * secret in rows, events or logs. Returns the violations (empty: all hold).
 *
 * @module
 */
import { liveMachines } from "../e2e/_support.ts";
import { appNameCandidate } from "../../supabase/functions/_shared/engine/app_name.ts";
import { sameImage } from "../../supabase/functions/_shared/image_ref.ts";
import { DEFAULT_REGION, isPaid, type Model, type Size, type World } from "./model.ts";

/** The sizes the user's machine may run: each plan size the tier had, with the override's fields over it. */
function allowedSizes(model: Model, user: string): Size[] {
  const tier = model.tier.get(user) as "pro" | "elite";
  const override = model.override.get(user) ?? {};
  return model.planSizes[tier].map((size) => ({
    cpu_kind: override.cpu_kind ?? size.cpu_kind,
    cpus: override.cpus ?? size.cpus,
    memory_mb: override.memory_mb ?? size.memory_mb,
  }));
}

/** Violations of one user's invariants. */
async function userViolations(model: Model, world: World, user: string, u: number): Promise<string[]> {
  const { stack } = world;
  const out: string[] = [];
  const say = (what: string) => out.push(`u${u} (${user}): ${what}`);
  const row = await stack.row(user);
  const apps = await stack.appsOf(user);
  const events = await stack.events(user);
  const [applied] = await stack.sql<{ applied_tier: string | null }[]>`
    select applied_tier from public.user_fly_apps where user_id = ${user}`;
  for (let i = 1; i < events.length; i++) {
    if (events[i].seq <= events[i - 1].seq) say(`events out of order at ${events[i].seq}`);
  }
  const lastOutcome = events.filter((e) =>
    e.event_type === "provision_completed" || e.event_type === "deprovision_completed"
  )
    .at(-1)?.event_type;
  if (isPaid(model, user)) {
    const held = model.held.has(user);
    if (!row) return [...out, `u${u}: paid but has no row`];
    if (row.desired_state !== "present") say(`paid but the row desires ${row.desired_state}`);
    if (row.status !== (held ? "held" : "active")) {
      say(`paid${held ? ", held," : ""} but status ${row.status}`);
    }
    if (row.observed_generation < row.desired_generation) say("generation not observed");
    if (applied?.applied_tier !== model.tier.get(user)) {
      say(`applied_tier ${applied?.applied_tier} but tier ${model.tier.get(user)}`);
    }
    if (apps.length !== 1) say(`${apps.length} apps (${apps.map((a) => a.name).join(", ")})`);
    if (apps[0] && apps[0].name !== row.fly_app_name) {
      say(`app ${apps[0].name} but row says ${row.fly_app_name}`);
    }
    const machines = apps.flatMap(liveMachines);
    if (machines.length !== 1) return [...out, `u${u}: ${machines.length} live machines`];
    const [machine] = machines;
    if (machine.id !== row.machine_id) say(`machine ${machine.id} but row says ${row.machine_id}`);
    if (machine.state !== (held ? "stopped" : "started")) say(`machine ${machine.state}`);
    const config = machine.config as { image?: string; guest?: Size };
    const guest = config.guest!;
    const sizes = allowedSizes(model, user);
    if (
      !sizes.some((s) =>
        s.cpu_kind === guest.cpu_kind && s.cpus === guest.cpus && s.memory_mb === guest.memory_mb
      )
    ) {
      say(
        `runs ${guest.cpu_kind}/${guest.cpus}/${guest.memory_mb}, expected one of ${JSON.stringify(sizes)}`,
      );
    }
    const override = model.override.get(user) ?? {};
    const region = override.region ?? DEFAULT_REGION;
    if (machine.region !== region) say(`runs in ${machine.region}, expected ${region}`);
    const image = override.image ?? model.planImage ?? world.defaultImage;
    // A rollout's canary runs the tag its digest was pinned from (see sameImage).
    if (!sameImage(config.image, image, machine.image_ref?.digest)) {
      say(`runs ${config.image}, expected ${image}`);
    }
    if (
      row.cpu_kind !== guest.cpu_kind || row.memory_mb !== guest.memory_mb || row.region !== machine.region
    ) {
      say(
        `row records ${row.cpu_kind}/${row.memory_mb}/${row.region}, Fly runs ${guest.cpu_kind}/${guest.memory_mb}/${machine.region}`,
      );
    }
    if (lastOutcome !== "provision_completed") say(`last outcome ${lastOutcome}`);
  } else {
    if (apps.length > 0) {
      say(`free but has apps ${apps.map((a) => `${a.name}[${liveMachines(a).length}]`).join(", ")}`);
    }
    if (row) {
      if (row.desired_state !== "absent" || row.status !== "deleted") {
        say(`free but the row says ${row.desired_state}/${row.status}`);
      }
      if (lastOutcome !== undefined && lastOutcome !== "deprovision_completed") {
        say(`last outcome ${lastOutcome}`);
      }
    }
  }
  return out;
}

/** Every invariant over the model's users; `known` are all users the stack has seen (for orphan apps). */
export async function invariantViolations(model: Model, world: World, known: string[]): Promise<string[]> {
  const { stack } = world;
  const out: string[] = [];
  for (const [u, user] of model.users.entries()) out.push(...await userViolations(model, world, user, u));
  const ours = new Set(
    await Promise.all(
      known.flatMap((user) => [0, 1, 2, 3, 4].map((i) => appNameCandidate(user, i, stack.naming))),
    ),
  );
  for (const app of (await stack.flyControl.state()).apps) {
    if (!ours.has(app.name)) out.push(`orphan app ${app.name}`);
    if (liveMachines(app).length > 1) {
      out.push(`app ${app.name} has ${liveMachines(app).length} live machines`);
    }
  }
  const [{ text }] = await stack.sql<{ text: string }[]>`
    select coalesce((select string_agg(a::text, ' ') from public.user_fly_apps a), '') ||
           coalesce((select string_agg(e::text, ' ') from public.user_fly_app_events e), '') as text`;
  for (const [what, haystack] of [["rows and events", text], ["logs", stack.logs.join("\n")]]) {
    for (const value of stack.secrets.sensitive) {
      if (haystack.includes(value)) out.push(`a secret value appears in ${what}`);
    }
  }
  return out;
}
