/**
 * The per-user actions (retry, hold, release, restart) and the bulk retry, with the confirmation the
 * machine-stopping ones need. Shared by the apps table and the user drawer.
 *
 * @module
 */
import { calls } from "./api.ts";

/**
 * The actions a row's state allows (none for a deleted or suspended row): `confirm` holds the question for those that stop a machine, `reason` the
 * label of the reason they ask for (recorded in the event).
 * @param {any} row an app row (or the detail's `app`)
 */
export function actionsFor(row) {
  // A deleted row has nothing to act on; a suspended one (a downgrade's grace) waits for the tier.
  if (row.status === "deleted" || row.status === "suspended") return [];
  const held = Boolean(row.held_at) || row.status === "held";
  const hasMachine = Boolean(row.machine_id);
  const actions = [{ name: "retry", label: "Retry" }];
  if (held) actions.push({ name: "release", label: "Release" });
  else if (row.fly_app_name && row.desired_state !== "absent") {
    actions.push({
      name: "hold",
      label: "Hold",
      confirm: `Hold stops the machine of ${row.email ?? row.user_id} and keeps it stopped until released.`,
      reason: "Why (recorded with the hold)",
    });
  }
  if (hasMachine && !held) {
    actions.push({
      name: "restart",
      label: "Restart",
      confirm: `Restart stops and starts the machine ${row.machine_id}; the app is briefly down.`,
    });
  }
  return actions;
}

/**
 * Runs one action on one user; resolves with a one-line summary.
 * @param {"retry" | "hold" | "release" | "restart"} name
 * @param {string} userId
 * @param {string} [reason] recorded in the event (default: "console")
 */
export async function runAction(name, userId, reason) {
  const body = await calls.appAction(name, userId, reason);
  if (name === "retry") return `retry: ${body.reconcile?.outcome ?? "requested"}`;
  if (name === "restart") return `restarted machine ${body.machine_id}`;
  return body.held ? "held: the machine is stopped" : "released: the machine starts again";
}

/** Bulk retry of every row in error or failed; resolves with a summary. */
export async function retryFailed() {
  const body = await calls.retryFailed();
  return `${body.retried} failed app(s) queued for a retry`;
}
