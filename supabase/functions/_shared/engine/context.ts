/**
 * What one user's reconcile works with: its dependencies, the leased row, the time budget, and the
 * observed patch and events it accumulates (recorded together with the outcome, success or failure, so the
 * next attempt resumes from what this one achieved).
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { AppEvent, UserFlyApp, UserFlyAppPatch } from "../db/user_fly_apps.ts";
import type { FlyClient } from "../fly/mod.ts";
import type { Logger } from "../log.ts";
import { DeadlineExceededError, LeaseLostError } from "./failure.ts";
import { type Repositories } from "../db/repositories.ts";

/** Long-lived dependencies shared by every reconcile of a function instance. */
export interface EngineDeps {
  config: Config;
  fly: FlyClient;
  repo: Repositories;
  log: Logger;
}

/** One reconcile in progress. */
export interface ReconcileContext extends EngineDeps {
  /** The leased row as claimed. */
  row: UserFlyApp;
  /** Epoch ms after which no new wait starts. */
  deadline: number;
  /** Aborted when the row's lease is lost: the attempt stops at its next pause. */
  signal: AbortSignal;
  /** Observed columns to record with the outcome. */
  patch: UserFlyAppPatch;
  /** Events to append with the outcome. */
  events: AppEvent[];
}

/** Milliseconds left before the deadline (never negative). */
export function remainingMs(ctx: Pick<ReconcileContext, "deadline">): number {
  return Math.max(0, ctx.deadline - Date.now());
}

/**
 * When work that has `budgetMs` until `deadline` takes no new item: a sixth of the budget (at most 10 s)
 * before the deadline, so that an item taken just before still has room to finish.
 */
export function takeNoWorkAfter(deadline: number, budgetMs: number): number {
  return deadline - Math.min(budgetMs / 6, 10_000);
}

/**
 * Sleeps `ms`; throws {@link DeadlineExceededError} when that would cross the deadline, and
 * {@link LeaseLostError} when the lease is lost (before or during the pause).
 */
export async function pause(
  ctx: Pick<ReconcileContext, "deadline" | "signal">,
  ms: number,
  waitingFor: string,
): Promise<void> {
  if (ctx.signal.aborted) throw new LeaseLostError();
  if (remainingMs(ctx) <= ms) throw new DeadlineExceededError(waitingFor);
  await new Promise((resolve) => setTimeout(resolve, ms));
  if (ctx.signal.aborted) throw new LeaseLostError();
}
