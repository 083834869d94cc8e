/**
 * What Fly allows for `suspend` (docs `reference/suspend-resume`): a machine keeps its memory in a snapshot, so
 * it may have at most 2 GB of memory, no swap and no schedule. Checked on the full machine config a plan
 * gives, before a plan's `idle_action` becomes `suspend` (the table's `fly_plans_suspend_limits_check`
 * refuses the memory part too, for plans edited by SQL).
 *
 * @module
 */
import type { MachineConfig } from "../fly/mod.ts";

/** Largest guest memory Fly suspends. */
export const SUSPEND_MAX_MEMORY_MB = 2048;

/** Why a machine with `config` cannot be suspended (empty: it can). */
export function suspendRefusals(config: MachineConfig): string[] {
  const refusals: string[] = [];
  // Fields of Fly's config this system does not set (kept by the loose schema).
  const { init, schedule } = config as { init?: { swap_size_mb?: number }; schedule?: string };
  const memory = config.guest?.memory_mb ?? 256;
  if (memory > SUSPEND_MAX_MEMORY_MB) {
    refusals.push(`suspend needs at most ${SUSPEND_MAX_MEMORY_MB} MB of memory; the plan has ${memory} MB`);
  }
  if ((init?.swap_size_mb ?? 0) > 0) refusals.push("suspend needs a machine without swap");
  if (schedule) refusals.push(`suspend needs a machine without a schedule (it has ${schedule})`);
  return refusals;
}
