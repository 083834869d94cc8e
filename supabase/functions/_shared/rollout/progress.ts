/**
 * What a rollout waits for, in words: one label per target and one line per batch, as the admin API sends
 * them to the ops CLI (`rollout status`) and the console, so both say the same thing.
 *
 * A target reads `pending`, `updating` (claimed, its update not applied yet), `gate (212 s left; machine
 * started, checks not passing: health)`, `healthy`, `failed (why)`, `applied (held: config applied, no gate)`
 * / `applied (idle: config applied, no gate)` (a stopped machine, counted as applied), `skipped (not
 * provisioned)`, `skipped (refused: …)` (a rollback that cannot help a user in `error`), `rolling_back`,
 * `rolled_back` or `rollback_failed (why)`.
 *
 * @module
 */
import type { TargetStatus } from "../db/fly_rollouts.ts";
import { describeLook } from "./driver.ts";

/** Human words for a skip reason. */
const SKIP_WORDS: Record<string, string> = {
  held: "held: config applied, no gate",
  idle: "idle: config applied, no gate",
  not_provisioned: "not provisioned",
  overridden: "overridden",
  refused: "refused: the user's own reconcile is refused for good, see the user's status",
};

/** The display state of a target: its stored state, with the gate and the skip reason spelt out. */
export function targetLabel(target: TargetStatus): string {
  const inFlight = target.state === "updating" || target.state === "rolling_back";
  if (inFlight && target.gate_started_at) {
    const seen = describeLook({ machineState: target.machine_state, failingChecks: target.failing_checks });
    const direction = target.state === "rolling_back" ? "rolling_back " : "";
    return `${direction}gate (${target.gate_seconds_left ?? 0} s left${seen ? `; ${seen}` : ""})`;
  }
  if (target.skip_reason) {
    const verb = target.state === "skipped" ? "skipped" : "applied";
    return `${verb} (${SKIP_WORDS[target.skip_reason] ?? target.skip_reason})`;
  }
  if ((target.state === "failed" || target.state === "rollback_failed") && target.error) {
    return `${target.state} (${target.error})`;
  }
  return target.state;
}

/** One batch's counts by state (`{batch, stage, <state>: count}`), as status returns them. */
export type BatchCounts = { batch: number; stage?: string | null } & Record<string, unknown>;

/** `batch 1 (10%): 3 healthy, 2 gate, 5 pending`: a batch's line, gates counted from the targets shown. */
export function batchLine(batch: BatchCounts, targets: TargetStatus[]): string {
  const inGate = targets.filter((t) =>
    t.batch === batch.batch && t.gate_started_at &&
    (t.state === "updating" || t.state === "rolling_back")
  ).length;
  const counts = Object.entries(batch)
    .filter(([key, value]) => key !== "batch" && key !== "stage" && typeof value === "number")
    .map(([state, count]) => {
      const n = state === "updating" || state === "rolling_back"
        ? (count as number) - inGate
        : count as number;
      return [state, n] as const;
    })
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`);
  if (inGate > 0) counts.push(`${inGate} in gate`);
  const stage = batch.stage ? ` (${batch.stage})` : "";
  return `batch ${batch.batch}${stage}: ${counts.join(", ")}`;
}
