/**
 * What image, size and region a reconcile converges the user's machine to: the user's override over the
 * rollout over the tier plan. A fleet-wide change (a plan edited by SQL, a new `FLY_APP_IMAGE`) only shows as
 * drift until a rollout applies it; one user's own change (a new tier, a new override) applies at once.
 *
 * - a new machine, or one whose user changed tier or override since it was converged ({@link planChange}):
 *   the plan's size and region, and its image override (else the image the machine runs, else the
 *   configured default);
 * - otherwise an existing machine keeps what it runs (image, guest, region);
 * - the user's batch of an active rollout has started (the target is in flight, done, or being rolled
 *   back): the rollout's spec (image pinned to its digest) over that;
 * - the user's ops override, if any, over everything (its image too, unless the rollout was started with
 *   `--include-overridden`: then the rollout's image wins while it covers the user).
 *
 * Everything else (env, services, checks, mounts, secrets) still converges to the plan as before.
 *
 * @module
 */
import type { Override, Plan, UserFlyApp } from "../db/user_fly_apps.ts";
import type { UserRolloutSpec } from "../db/fly_rollouts.ts";
import type { Machine } from "../fly/mod.ts";
import { preferredMachine } from "./observe.ts";
import { pinnedImage } from "../image_ref.ts";

/** Inputs of {@link machineTarget}. */
export interface MachineTargetInput {
  plan: Plan;
  /** `FLY_APP_IMAGE`: the image of a plan without an override. */
  defaultImage: string;
  /** The spec's `rollout` (null or absent: no active rollout covers the user). */
  rollout?: UserRolloutSpec | null;
  /** The machine the user runs now (the recorded one if live), if any. */
  current?: Machine;
  /** The user's ops override (null or absent: none). */
  override?: Override | null;
  /** The user changed tier or override since `current` was converged: it gets the plan ({@link planChange}). */
  applyPlan?: boolean;
}

/** What changed for one user since their machine was last converged (from the row's `applied_*`). */
export interface PlanChange {
  /** The user's tier differs from the one the machine was converged to. */
  tierChanged: boolean;
  /** The user's override was set, changed or cleared since. */
  overrideChanged: boolean;
}

/**
 * Whether the user's own tier or override changed since the machine was converged, decided by data: the
 * row's `applied_tier` / `applied_override_version` against the spec. A row that never recorded a tier
 * (converged before this was recorded) counts as unchanged: its machine keeps what it runs.
 */
export function planChange(
  row: Pick<UserFlyApp, "applied_tier" | "applied_override_version">,
  spec: { plan: Plan; override?: Override | null },
): PlanChange {
  return {
    tierChanged: (row.applied_tier ?? null) !== null && row.applied_tier !== spec.plan.tier,
    overrideChanged: (row.applied_override_version ?? null) !== (spec.override?.version ?? null),
  };
}

/** The machine the user runs now: the recorded one if it is live, else the preferred live one. */
export function currentMachine(live: Machine[], recordedId: string | null): Machine | undefined {
  return live.find((m) => m.id === recordedId) ?? preferredMachine(live);
}

/**
 * The image a rollout's spec for the user names, and the digest it must run: forward, the target pinned to
 * the rollout's digest once it has one; back (`restores_previous`), the reference the machine ran before
 * exactly as recorded (a tag stays a tag, so the machine reads as its plan again), held to the digest it ran.
 */
function rolloutImage(rollout: UserRolloutSpec): Pick<Plan, "image" | "image_digest"> | undefined {
  const { spec } = rollout;
  if (!spec.image) return undefined;
  if (rollout.restores_previous) return { image: spec.image, image_digest: spec.digest };
  return { image: spec.digest ? pinnedImage(spec.image, spec.digest) : spec.image };
}

/**
 * The plan with the image, size and region the machine converges to (see the module doc); its `image` is
 * always set.
 */
export function machineTarget(input: MachineTargetInput): Plan {
  const { plan, current } = input;
  const base: Plan = current && !input.applyPlan
    ? {
      ...plan,
      image: current.config.image ?? plan.image ?? input.defaultImage,
      region: current.region,
      cpu_kind: (current.config.guest?.cpu_kind as Plan["cpu_kind"] | undefined) ?? plan.cpu_kind,
      cpus: current.config.guest?.cpus ?? plan.cpus,
      memory_mb: current.config.guest?.memory_mb ?? plan.memory_mb,
    }
    : { ...plan, image: plan.image ?? current?.config.image ?? input.defaultImage };
  const rollout = input.rollout;
  const active = rollout && rollout.target_state !== "pending" ? rollout : undefined;
  const spec = active?.spec;
  const rolled: Plan = active && spec
    ? {
      ...base,
      // A rollback to a user who had no machine when the rollout began restores what their plan says.
      ...(rolloutImage(active) ??
        { image: active.restores_previous ? plan.image ?? input.defaultImage : base.image }),
      region: spec.region ?? base.region,
      cpu_kind: spec.cpu_kind ?? base.cpu_kind,
      cpus: spec.cpus ?? base.cpus,
      memory_mb: spec.memory_mb ?? base.memory_mb,
    }
    : base;
  const override = input.override;
  if (!override) return rolled;
  const rolloutWinsImage = spec !== undefined && rollout?.include_overridden === true;
  const image = rolloutWinsImage ? rolled.image : override.image ?? rolled.image;
  return {
    ...rolled,
    image,
    image_digest: image === rolled.image ? rolled.image_digest : undefined,
    region: override.region ?? rolled.region,
    cpu_kind: override.cpu_kind ?? rolled.cpu_kind,
    cpus: override.cpus ?? rolled.cpus,
    memory_mb: override.memory_mb ?? rolled.memory_mb,
  };
}

/** The machine fields a plan change can touch. */
const TARGET_FIELDS = ["image", "region", "cpu_kind", "cpus", "memory_mb"] as const;

/** The fields where `to` differs from `from`, each with both values (for `plan_applied`). */
export function targetChanges(from: Plan, to: Plan): Record<string, { from: unknown; to: unknown }> {
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of TARGET_FIELDS) {
    if (from[field] !== to[field]) changed[field] = { from: from[field], to: to[field] };
  }
  return changed;
}
