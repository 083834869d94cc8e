/**
 * The idle rules on their own: which machine is `idle` (never repaired) and which is down (repaired), when the
 * fleet listing leaves an idle row alone, the services a plan's idle action and a hold give the machine, and
 * Fly's limits for suspend.
 */
import { assertEquals } from "../_support/assert.ts";
import { machineHealth, stillIdle } from "../../supabase/functions/_shared/engine/health.ts";
import { desiredMachineConfig } from "../../supabase/functions/_shared/engine/machine_spec.ts";
import { suspendRefusals } from "../../supabase/functions/_shared/engine/idle.ts";
import { needsDetail } from "../../supabase/functions/_shared/sweep/fleet_listing.ts";
import type { FleetRow, Plan } from "../../supabase/functions/_shared/db/user_fly_apps.ts";
import type { MachineState } from "../../supabase/functions/_shared/fly/schemas/machines.ts";

const PLAN: Plan = {
  tier: "pro",
  region: "sin",
  cpu_kind: "shared",
  cpus: 2,
  memory_mb: 512,
  image: null,
  public_services: true,
  monthly_cost_estimate_usd: null,
};

Deno.test("idle rules: a stopped or suspended machine is idle only on a plan that lets it idle", () => {
  const judge = (state: MachineState, idle?: Plan["idle_action"]) => {
    const { health, repairReason } = machineHealth({ state, checks: [] }, null, idle);
    return [health, repairReason];
  };
  assertEquals(judge("stopped"), ["unhealthy", "machine_stopped"], "no idle action: repaired");
  assertEquals(judge("stopped", "off"), ["unhealthy", "machine_stopped"]);
  assertEquals(judge("stopped", "stop"), ["idle", null]);
  assertEquals(judge("suspended", "suspend"), ["idle", null]);
  assertEquals(judge("failed", "stop"), ["unhealthy", "machine_failed"], "a failed machine is not idle");
  assertEquals(judge("started", "stop"), ["healthy", null]);
  // A hold wins: its stopped machine is parked, not idle.
  assertEquals(machineHealth({ state: "stopped", checks: [] }, "held", "stop").health, "unknown");
});

Deno.test("idle rules: the fleet listing leaves a row judged idle alone while its machine stays down", () => {
  const row = (health: string, state: string, previous: string): FleetRow => ({
    id: "1",
    user_id: "u",
    fly_app_name: "a",
    status: "active",
    desired_state: "present",
    machine_id: "m",
    health_status: health,
    held_at: null,
    previous_state: previous,
    state,
    live_machines: 1,
    observed_machine_id: "m",
  });
  assertEquals(needsDetail(row("idle", "stopped", "stopped")), false);
  assertEquals(needsDetail(row("idle", "suspended", "suspended")), false);
  assertEquals(
    needsDetail(row("healthy", "stopped", "started")),
    true,
    "just stopped: judged by a detail check",
  );
  assertEquals(needsDetail(row("unhealthy", "stopped", "stopped")), true, "not judged idle: flagged");
  assertEquals(needsDetail(row("idle", "failed", "stopped")), true);
  assertEquals(stillIdle({ health_status: "idle" }, "started"), false);
});

Deno.test("idle rules: services follow the plan's idle action; a hold turns autostart off", () => {
  const service = (plan: Plan, held = false) =>
    desiredMachineConfig({ userId: "u", plan, image: "i", createToken: "t", held }).services![0];
  const pick = (s: ReturnType<typeof service>) => [s.autostop, s.autostart, s.min_machines_running];
  assertEquals(pick(service(PLAN)), ["off", true, 1]);
  assertEquals(pick(service({ ...PLAN, idle_action: "stop" })), ["stop", true, 0]);
  assertEquals(pick(service({ ...PLAN, idle_action: "suspend" }, true)), ["suspend", false, 0]);
});

Deno.test("idle rules: suspend needs at most 2 GB, no swap, no schedule", () => {
  const config = (memory: number) =>
    desiredMachineConfig({ userId: "u", plan: { ...PLAN, memory_mb: memory }, image: "i", createToken: "t" });
  assertEquals(suspendRefusals(config(2048)), []);
  assertEquals(suspendRefusals(config(4096)), [
    "suspend needs at most 2048 MB of memory; the plan has 4096 MB",
  ]);
  assertEquals(
    suspendRefusals({ ...config(512), init: { swap_size_mb: 512 }, schedule: "daily" } as never).length,
    2,
  );
});
