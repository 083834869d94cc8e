/** The controller's decisions (no database): what an outcome writes, backoff with full jitter and a cap. */
import { assert, assertEquals } from "../_support/assert.ts";
import type { DesiredSpec, UserFlyApp } from "../../supabase/functions/_shared/db/user_fly_apps.ts";
import { type OutcomeInput, outcomeRecord } from "../../supabase/functions/_shared/controller/controller.ts";
import { unitTestConfig } from "../_support/unit_config.ts";

const config = unitTestConfig();

const row = {
  id: "a",
  user_id: "u",
  fly_app_name: "vyx-user-x",
  status: "failed",
  retry_count: 2,
  machine_id: "m",
  next_attempt_at: null,
} as unknown as UserFlyApp;

const spec = {
  user_id: "u",
  tier: "pro",
  desired_state: "present",
  desired_generation: 3,
  plan: {},
} as unknown as DesiredSpec;

function input(overrides: Partial<OutcomeInput>): OutcomeInput {
  return {
    attempt: { outcome: "converged" },
    row,
    spec,
    generation: 3,
    due: true,
    patch: {},
    events: [],
    reason: "kick",
    durationMs: 10,
    config,
    now: 1_000_000,
    random: () => 0.5,
    ...overrides,
  };
}

const failed = {
  outcome: "failed" as const,
  failure: { outcome: "failed" as const, kind: "fly_503", message: "x" },
};

Deno.test("controller: a converged attempt observes the generation and clears the failure state", () => {
  const record = outcomeRecord(input({}));
  assertEquals(record.patch, {
    observed_generation: 3,
    retry_count: 0,
    error_message: null,
    next_attempt_at: null,
  });
  assertEquals(record.events.map((e) => e.event_type), ["provision_started", "provision_completed"]);
  assertEquals(record.alert, null);
});

Deno.test("controller: a due failure backs off and counts; the count reaching the threshold alerts", () => {
  const record = outcomeRecord(input({ attempt: failed }));
  assertEquals(record.patch.retry_count, 3);
  assertEquals(record.patch.next_attempt_at, new Date(1_000_000 + 20_000).toISOString());
  assertEquals(record.alert, { reason: "consecutive_failures", retryCount: 3 });
  assertEquals(record.events.map((e) => e.event_type), [
    "provision_started",
    "provision_failed",
    "alert_raised",
  ]);
});

Deno.test("controller: a failure the schedule did not make due changes neither count nor schedule", () => {
  const record = outcomeRecord(input({ attempt: failed, due: false }));
  assertEquals("retry_count" in record.patch, false);
  assertEquals("next_attempt_at" in record.patch, false);
  assertEquals(record.patch.status, "failed");
  assertEquals(record.alert, null);
});

Deno.test("controller: progressing requeues soon without counting or alerting", () => {
  const record = outcomeRecord(input({
    attempt: {
      outcome: "progressing",
      failure: { outcome: "progressing", kind: "deadline", message: "booting", requeueAfterMs: 1_000 },
    },
  }));
  assertEquals(record.patch.next_attempt_at, new Date(1_001_000).toISOString());
  assertEquals(record.patch.status, "provisioning");
  assertEquals("retry_count" in record.patch, false);
  assertEquals(record.alert, null);
});

Deno.test("controller: a terminal failure is an error, not due, with an alert at once", () => {
  const record = outcomeRecord(input({
    attempt: { outcome: "terminal", failure: { outcome: "terminal", kind: "fly_auth", message: "401" } },
    due: false,
  }));
  assertEquals([record.patch.status, record.patch.next_attempt_at], ["error", null]);
  assertEquals(record.alert?.reason, "permanent_failure");
});

Deno.test("controller: a converged repair adds a repaired event", () => {
  const record = outcomeRecord(input({ reason: "repair_machine_stopped" }));
  const repaired = record.events.find((e) => e.event_type === "repaired");
  assert(repaired);
  assertEquals(repaired.metadata?.reason, "machine_stopped");
});
