/**
 * `machineTarget`: a rollback's previous spec for a user who had no machine when the rollout began (an empty
 * previous spec) restores the plan's image, not the rolled-out image the machine got since. Found by the
 * property test: such a late user stayed on the rolled-back image under a rollout that said `rolled_back`.
 */
import { assertEquals } from "../_support/assert.ts";
import { machineTarget } from "../../supabase/functions/_shared/engine/machine_target.ts";
import type { Plan } from "../../supabase/functions/_shared/db/user_fly_apps.ts";
import type { Machine } from "../../supabase/functions/_shared/fly/mod.ts";

const PLAN: Plan = {
  tier: "pro",
  region: "sin",
  cpu_kind: "shared",
  cpus: 1,
  memory_mb: 512,
  image: null,
  public_services: true,
  monthly_cost_estimate_usd: null,
};
const DEFAULT_IMAGE = "registry.fly.io/app:latest";
const ROLLED_OUT = "registry.fly.io/app@sha256:" + "c".repeat(64);
const current = {
  id: "m1",
  region: "sin",
  state: "started",
  config: { image: ROLLED_OUT, guest: { cpu_kind: "shared", cpus: 1, memory_mb: 512 } },
} as unknown as Machine;

/** The user's rollout spec while its rollout rolls back: the previous spec recorded at creation. */
function rollingBack(previous: Record<string, string>) {
  return {
    rollout_id: "r1",
    state: "running" as const,
    direction: "rollback" as const,
    target_state: "rolling_back",
    restores_previous: true,
    spec: previous,
  };
}

Deno.test("machineTarget: a rollback with an empty previous spec restores the plan's image", () => {
  const target = machineTarget({
    plan: PLAN,
    defaultImage: DEFAULT_IMAGE,
    current,
    rollout: rollingBack({}),
  });
  assertEquals(target.image, DEFAULT_IMAGE);
});

Deno.test("machineTarget: a rollback restores the recorded reference, held to its digest", () => {
  const digest = "sha256:" + "a".repeat(64);
  const target = machineTarget({
    plan: PLAN,
    defaultImage: DEFAULT_IMAGE,
    current,
    rollout: rollingBack({ image: DEFAULT_IMAGE, digest }),
  });
  assertEquals([target.image, target.image_digest], [DEFAULT_IMAGE, digest]);
});
