/**
 * A fleet of user machines on the Machines API emulator for the rollout driver (tests and `bench rollout`):
 * {@link provisionFleet} gives each paid user one started machine and an active row, and
 * {@link emulatorApply} is what the controller does for a rollout target, reduced to the machine: a
 * full-config update with `current_version` when the config differs, then the product's look at the health
 * gate. It counts the updates it sent per user.
 */
import type { Plan } from "../../supabase/functions/_shared/db/user_fly_apps.ts";
import { mapBounded } from "../../supabase/functions/_shared/bounded.ts";
import type { ScratchDatabase } from "../_support/database.ts";
import type { RolloutSpec } from "../../supabase/functions/_shared/db/fly_rollouts.ts";
import { FlyApiError, type FlyClient, FlyNotFoundError } from "../../supabase/functions/_shared/fly/mod.ts";
import {
  configDrift,
  desiredMachineConfig,
  updatedConfig,
} from "../../supabase/functions/_shared/engine/machine_spec.ts";
import { pinnedImage } from "../../supabase/functions/_shared/image_ref.ts";
import type { ApplyTarget } from "../../supabase/functions/_shared/rollout/driver.ts";
import { lookAtGate } from "../../supabase/functions/_shared/rollout/apply.ts";

/** The one app every test user's machine lives in (one machine per user, found by metadata). */
export const FLEET_APP = "rollout-fleet";

/** The plan the fleet runs. */
export const FLEET_PLAN: Plan = {
  tier: "pro",
  region: "sin",
  cpu_kind: "shared",
  cpus: 2,
  memory_mb: 512,
  image: null,
  public_services: true,
  monthly_cost_estimate_usd: null,
};

/** The full config of a user's machine for `spec` over the fleet plan. */
export function configFor(userId: string, spec: RolloutSpec, createToken: string) {
  const image = spec.digest ? pinnedImage(spec.image!, spec.digest) : spec.image!;
  const plan = { ...FLEET_PLAN, ...(spec.memory_mb ? { memory_mb: spec.memory_mb } : {}) };
  return desiredMachineConfig({ userId, plan, image, createToken });
}

/**
 * Creates one started machine running `image` per user in {@link FLEET_APP} (created too), `concurrency` at a
 * time, and records each user's row as active on it (image, digest, machine id). Returns user → machine id.
 */
export async function provisionFleet(
  options: { fly: FlyClient; db: ScratchDatabase; orgSlug: string; users: string[]; image: string },
  concurrency = 1,
): Promise<Map<string, string>> {
  const { fly, db, users, image } = options;
  await fly.apps.create({ name: FLEET_APP, org_slug: options.orgSlug });
  // Apps are eventually consistent: wait until the new app is visible.
  while (!(await fly.apps.get(FLEET_APP).then(() => true, (error) => !(error instanceof FlyNotFoundError)))) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const machineIds = new Map<string, string>();
  await mapBounded(users, concurrency, async (user) => {
    const created = await fly.machines.create(FLEET_APP, {
      region: "sin",
      config: configFor(user, { image }, crypto.randomUUID()),
    });
    for (let reached = false; !reached;) {
      reached = (await fly.machines.wait(FLEET_APP, created.id, { timeoutSeconds: 10 })).reached;
    }
    machineIds.set(user, created.id);
    await db.sql`update public.user_fly_apps set status = 'active', machine_id = ${created.id},
      docker_image = ${image}, image_digest = ${created.image_ref?.digest ?? null} where user_id = ${user}`;
  });
  return machineIds;
}

/**
 * The apply, and the number of updates it sent per user. `machineIds` maps each user to their machine (the
 * controller finds it by metadata; a list per target would only add rate-limited calls here). The gate is the
 * product's: {@link lookAtGate}, ended by the driver.
 */
export function emulatorApply(
  fly: FlyClient,
  machineIds: ReadonlyMap<string, string>,
): { apply: ApplyTarget; updates: Map<string, number> } {
  const updates = new Map<string, number>();
  const apply: ApplyTarget = async ({ user_id: userId }, spec, { deadline, gateStartedAt, lookMs }) => {
    const machineId = machineIds.get(userId)!;
    const look = (started: number) =>
      lookAtGate({ fly }, { appName: FLEET_APP, machineId, gateStartedAt: started }, { lookMs, deadline });
    if (gateStartedAt !== null) return await look(gateStartedAt);
    const machine = await fly.machines.get(FLEET_APP, machineId);
    const desired = configFor(userId, spec, machine.config.metadata?.create_token ?? "");
    if (configDrift(machine.config, desired).length > 0) {
      try {
        await fly.machines.update(FLEET_APP, machine.id, {
          config: updatedConfig(machine, desired),
          current_version: machine.version,
        });
      } catch (error) {
        if (error instanceof FlyApiError && error.status === 400) {
          return { outcome: "failed", error: error.message };
        }
        throw error;
      }
      updates.set(userId, (updates.get(userId) ?? 0) + 1);
    }
    return await look(Date.now());
  };
  return { apply, updates };
}
