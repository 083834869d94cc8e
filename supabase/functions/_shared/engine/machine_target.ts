/**
 * What image, size and region a reconcile converges the user's machine to. Rollouts own these: a plan change
 * by SQL or a new `FLY_APP_IMAGE` only shows as drift until a rollout applies it.
 *
 * - the user's batch of an active rollout has started (the target is in flight, done, or being rolled
 *   back): the rollout's spec (image pinned to its digest) over what the machine runs;
 * - otherwise an existing machine keeps what it runs (image, guest, region);
 * - a new machine gets the plan (its image override or the configured default).
 *
 * Everything else (env, services, checks, mounts, secrets) still converges to the plan as before.
 *
 * @module
 */
import type { Plan } from "../db/user_fly_apps.ts";
import type { RolloutSpec, UserRolloutSpec } from "../db/fly_rollouts.ts";
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
}

/** The machine the user runs now: the recorded one if it is live, else the preferred live one. */
export function currentMachine(live: Machine[], recordedId: string | null): Machine | undefined {
  return live.find((m) => m.id === recordedId) ?? preferredMachine(live);
}

/** The image `spec` names, pinned to its digest when it has one. */
function rolloutImage(spec: RolloutSpec): string | undefined {
  if (!spec.image) return undefined;
  return spec.digest ? pinnedImage(spec.image, spec.digest) : spec.image;
}

/**
 * The plan with the image, size and region the machine converges to (see the module doc); its `image` is
 * always set.
 */
export function machineTarget(input: MachineTargetInput): Plan {
  const { plan, current } = input;
  const base: Plan = current
    ? {
      ...plan,
      image: current.config.image ?? plan.image ?? input.defaultImage,
      region: current.region,
      cpu_kind: (current.config.guest?.cpu_kind as Plan["cpu_kind"] | undefined) ?? plan.cpu_kind,
      cpus: current.config.guest?.cpus ?? plan.cpus,
      memory_mb: current.config.guest?.memory_mb ?? plan.memory_mb,
    }
    : { ...plan, image: plan.image ?? input.defaultImage };
  const rollout = input.rollout;
  if (!rollout || rollout.target_state === "pending") return base;
  const spec = rollout.spec;
  return {
    ...base,
    image: rolloutImage(spec) ?? base.image,
    region: spec.region ?? base.region,
    cpu_kind: spec.cpu_kind ?? base.cpu_kind,
    cpus: spec.cpus ?? base.cpus,
    memory_mb: spec.memory_mb ?? base.memory_mb,
  };
}
