/**
 * What one user's reconcile works with: its dependencies, the leased row, the time budget, and the
 * observed patch and events it accumulates (recorded together with the outcome, success or failure, so the
 * next attempt resumes from what this one achieved).
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { AppEvent, ObservedPatch, UserFlyApp, UserFlyAppsRepository } from "../db/user_fly_apps.ts";
import type { FlyClient } from "../fly/mod.ts";
import type { Logger } from "../log.ts";
import { DeadlineExceededError } from "./failure.ts";

/** Long-lived dependencies shared by every reconcile of a function instance. */
export interface EngineDeps {
  config: Config;
  fly: FlyClient;
  repo: UserFlyAppsRepository;
  log: Logger;
}

/** One reconcile in progress. */
export interface ReconcileContext extends EngineDeps {
  /** The leased row as claimed. */
  row: UserFlyApp;
  /** Epoch ms after which no new wait starts. */
  deadline: number;
  /** Observed columns to record with the outcome. */
  patch: ObservedPatch;
  /** Events to append with the outcome. */
  events: AppEvent[];
}

/** Milliseconds left before the deadline (never negative). */
export function remainingMs(ctx: Pick<ReconcileContext, "deadline">): number {
  return Math.max(0, ctx.deadline - Date.now());
}

/** Sleeps `ms`, or throws {@link DeadlineExceededError} when that would cross the deadline. */
export async function pause(
  ctx: Pick<ReconcileContext, "deadline">,
  ms: number,
  waitingFor: string,
): Promise<void> {
  if (remainingMs(ctx) <= ms) throw new DeadlineExceededError(waitingFor);
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** The app name the row records, or the error that none is known yet. */
export function recordedAppName(ctx: ReconcileContext): string | null {
  return ctx.patch.fly_app_name ?? ctx.row.fly_app_name;
}
