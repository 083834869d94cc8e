/**
 * What must hold once a sequence has settled, checked against the model: every paid user has exactly one app
 * with exactly one machine (besides one a host recovery kept on its dead volume) running the size, region and
 * image override ⊕ plan ⊕ rollout say (started, or stopped while held), an elite user's on its one volume
 * (besides volumes a restore or recovery keeps); every free user has no app and a `deleted` row; every row's
 * status agrees with Fly; no app of ours belongs to nobody; each user's events are ordered and their last
 * outcome matches the final state; no volume was deleted without a created snapshot holding its data; a volume
 * holds only what its user's machines wrote; every kept volume the rows list exists; no secret in rows, events
 * or logs. A paid user may instead be `error` where the product refuses on purpose (a lost host with no
 * snapshot to recover from, a region move the volume cannot follow), with their volume still there. Returns
 * the violations (empty: all hold).
 *
 * @module
 */
import { type EmulatedApp, type EmulatedMachine, liveMachines } from "../e2e/_support.ts";
import { appNameCandidate } from "../../supabase/functions/_shared/engine/app_name.ts";
import { sameImage } from "../../supabase/functions/_shared/image_ref.ts";
import { DEFAULT_REGION, isPaid, type Model, type Size, type World } from "./model.ts";

/** The volume ids a machine mounts. */
function mountsOf(machine: EmulatedMachine): string[] {
  return ((machine.config as { mounts?: { volume?: string }[] }).mounts ?? []).map((mount) =>
    mount.volume ?? ""
  );
}

/** Volumes restores and recoveries keep (detached, or with the dead host's machine) until their keep period ends. */
async function keptVolumes(world: World): Promise<Set<string>> {
  const rows = await world.stack.sql<{ from_volume_id: string }[]>`
    select from_volume_id from public.user_fly_volume_moves where kept_state = 'kept'`;
  return new Set(rows.map((row) => row.from_volume_id));
}

/**
 * Whether a paid user may end `error` on purpose: a lost host with no snapshot to recover from (never an empty
 * volume in its place), or a region move the volume cannot follow.
 */
function refusedOnPurpose(model: Model, user: string, error: string | null): boolean {
  return (model.hostLost.has(user) && /no snapshot/.test(error ?? "")) ||
    (model.regionChanged.has(user) && /would not follow/.test(error ?? ""));
}

/** Violations of the user's volumes: data only they wrote, and kept volumes the rows list that exist. */
function volumeViolations(
  model: Model,
  user: string,
  apps: EmulatedApp[],
  keptOfUser: string[],
): string[] {
  const out: string[] = [];
  const volumes = apps.flatMap((app) => app.volumes);
  const written = model.written.get(user) ?? new Set<string>();
  for (const volume of volumes) {
    if (volume.data !== null && !written.has(volume.data)) {
      out.push(`volume ${volume.id} holds ${volume.data}, which the user's machines never wrote`);
    }
  }
  for (const id of keptOfUser) {
    if (!volumes.some((volume) => volume.id === id)) {
      out.push(`the rows keep volume ${id}, which Fly does not have`);
    }
  }
  return out;
}

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
  const [applied] = await stack.sql<{ applied_tier: string | null; volume_id: string | null }[]>`
    select applied_tier, volume_id from public.user_fly_apps where user_id = ${user}`;
  const keptOfUser = (await stack.sql<{ from_volume_id: string }[]>`
    select from_volume_id from public.user_fly_volume_moves where user_id = ${user} and kept_state = 'kept'`)
    .map((move) => move.from_volume_id);
  for (const problem of volumeViolations(model, user, apps, keptOfUser)) say(problem);
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
    if (row.status === "error" && refusedOnPurpose(model, user, row.error_message)) {
      const volumes = apps.flatMap((app) => app.volumes);
      if (applied?.volume_id && !volumes.some((volume) => volume.id === applied.volume_id)) {
        say(`refused (${row.error_message}) but its volume ${applied.volume_id} is gone`);
      }
      return out;
    }
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
    // A host recovery keeps the dead host's machine on its (kept) volume, for a revert.
    const machines = apps.flatMap(liveMachines).filter((m) =>
      !mountsOf(m).some((id) => keptOfUser.includes(id))
    );
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
    if (model.tier.get(user) === "elite") {
      const mounted = mountsOf(machine);
      if (mounted.length !== 1 || mounted[0] !== applied?.volume_id) {
        say(`machine mounts ${JSON.stringify(mounted)}, the row records volume ${applied?.volume_id}`);
      }
      const others = apps.flatMap((app) => app.volumes).filter((v) =>
        v.id !== applied?.volume_id && !keptOfUser.includes(v.id)
      );
      if (others.length > 0) say(`volumes neither used nor kept: ${others.map((v) => v.id).join(", ")}`);
    }
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
  const kept = await keptVolumes(world);
  const state = await stack.flyControl.state();
  for (const app of state.apps) {
    if (!ours.has(app.name)) out.push(`orphan app ${app.name}`);
    const serving = liveMachines(app).filter((machine) => !mountsOf(machine).some((id) => kept.has(id)));
    if (serving.length > 1) out.push(`app ${app.name} has ${serving.length} live machines`);
  }
  const sequenceApps = new Set(
    await Promise.all(
      model.users.flatMap((user) => [0, 1, 2, 3, 4].map((i) => appNameCandidate(user, i, stack.naming))),
    ),
  );
  for (const deleted of state.deleted_volumes.filter((volume) => sequenceApps.has(volume.app))) {
    const what = `volume ${deleted.id} of ${deleted.app} (deleted by ${deleted.by})`;
    if (!deleted.snapshot) out.push(`${what} had no created snapshot`);
    else if (deleted.snapshot.data !== deleted.data) {
      out.push(`${what} held ${deleted.data}; its newest snapshot only ${deleted.snapshot.data}`);
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
