/**
 * The per-user actions (retry, hold, release, restart; for a user with a volume: snapshot, restore, revert)
 * and the bulk retry, with the confirmation the machine-stopping ones need. Shared by the apps table and the user drawer.
 *
 * @module
 */
import { calls } from "./api.ts";

/**
 * One action a row offers: `confirm` is the question asked first, `reason` the label of the reason asked.
 * @typedef {{ name: import("./api.ts").AppAction, label: string, confirm?: string, reason?: string }} Action
 */

/**
 * The actions a row's state allows (none for a deleted or suspended row): `confirm` holds the question for those that stop a machine, `reason` the
 * label of the reason they ask for (recorded in the event).
 * @param {any} row an app row (or the detail's `app`)
 * @returns {Action[]}
 */
export function actionsFor(row) {
  // A deleted row has nothing to act on; a suspended one (a downgrade's grace) waits for the tier.
  if (row.status === "deleted" || row.status === "suspended") return [];
  const held = Boolean(row.held_at) || row.status === "held";
  const hasMachine = Boolean(row.machine_id);
  /** @type {Action[]} */
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
  if (row.volume_id) {
    const who = row.email ?? row.user_id;
    actions.push(
      { name: "snapshot", label: "Snapshot" },
      {
        name: "restore",
        label: "Restore",
        confirm:
          `Restore moves the machine of ${who} onto a new volume made from its newest snapshot; the app ` +
          `restarts, and the volume ${row.volume_id} is kept 7 days (Revert goes back to it).`,
        reason: "Why (recorded with the restore)",
      },
      {
        name: "revert",
        label: "Revert",
        confirm:
          `Revert moves the machine of ${who} back onto the volume its last restore kept; the app restarts.`,
        reason: "Why (recorded with the revert)",
      },
    );
  }
  return actions;
}

/**
 * Runs one action on one user; resolves with a one-line summary.
 * @param {import("./api.ts").AppAction} name
 * @param {string} userId
 * @param {string} [reason] recorded in the event (default: "console")
 */
export async function runAction(name, userId, reason) {
  const body = await calls.appAction(name, userId, reason);
  if (name === "retry") return `retry: ${body.reconcile?.outcome ?? "requested"}`;
  if (name === "restart") return `restarted machine ${body.machine_id}`;
  if (name === "snapshot") {
    return body.snapshot.status === "created"
      ? `snapshot ${body.snapshot.snapshot_id} created`
      : "snapshot requested: Fly is still taking it";
  }
  if (name === "restore" || name === "revert") {
    return `${name}: now on volume ${body.move.to_volume_id} (reconcile: ${body.reconcile?.outcome})`;
  }
  return body.held ? "held: the machine is stopped" : "released: the machine starts again";
}

/** Bulk retry of every row in error or failed; resolves with a summary. */
export async function retryFailed() {
  const body = await calls.retryFailed();
  return `${body.retried} failed app(s) queued for a retry`;
}
