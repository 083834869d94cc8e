/**
 * The admin API's one way into the controller: reconcile a user now, synchronously, on behalf of an
 * operator, and report the outcome as JSON. The only admin module that imports the reconcile entry point.
 *
 * @module
 */
import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import { reconcileUser } from "../controller/controller.ts";
import { engine, ownerOf } from "./request.ts";

/** A reconcile's outcome as the admin API reports it: `{outcome, desired_state?, error?}`. */
export interface ReconcileReport {
  outcome: string;
  desired_state?: string;
  error?: string;
  [key: string]: unknown;
}

/** Outcomes that mean the reconcile did not get the user where they should be. */
const FAILED_OUTCOMES = new Set(["failed", "terminal"]);

/** Whether `report` says the reconcile failed (the API answers 502 then). */
export function reconcileFailed(report: ReconcileReport): boolean {
  return FAILED_OUTCOMES.has(report.outcome);
}

/** Reconciles `userId` now within the synchronous budget, recording `actor` as the reason. */
export async function reconcileNow(
  c: Context<AppEnv>,
  userId: string,
  actor: string,
): Promise<ReconcileReport> {
  const result = await reconcileUser(engine(c), {
    userId,
    owner: ownerOf(),
    deadline: Date.now() + c.get("config").reconcile.budgetMs,
    reason: actor,
  });
  const report: ReconcileReport = { outcome: result.outcome };
  if ("desiredState" in result) report.desired_state = result.desiredState;
  if ("error" in result && result.error) report.error = result.error;
  return report;
}
