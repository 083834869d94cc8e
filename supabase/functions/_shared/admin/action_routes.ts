/**
 * Action routes of the admin API. Each writes an event naming the actor (`X-Actor`):
 *
 * - retry one user: clear the error, make the row due, reconcile now (synchronously);
 * - bulk retry by status: the rows become due and the controller (kick, sweep) reconciles them at the rate
 *   limits; nothing here loops over Fly;
 * - hold / release: record it, then reconcile now (the controller keeps a held machine stopped); holding a
 *   held user is a 409 naming who holds it, since when and why, unless the body says `replace: true` (the
 *   event then records the hold it replaced);
 * - restart: restart the user's machine on Fly (refused while held);
 * - override set / cleared (`PUT` / `DELETE /apps/:user_id/override`): size, region or image for one user,
 *   validated like a plan (a size Fly would refuse on the user's plan is a 400, nothing written), stored with
 *   actor and reason, then reconciled now: it applies at once, like a tier change.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { JsonRow, OverrideFields } from "../db/admin.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpError } from "../http/errors.ts";
import { jsonBody, paramsOf } from "../http/validate.ts";
import { reconcileFailed, reconcileNow } from "./reconcile_now.ts";
import { actorOf, adminRepo, assertImageAllowed, engine, sqlAction } from "./request.ts";
import { actionBody, bulkRetryBody, guestProblem, holdBody, overrideBody, userIdParam } from "./schemas.ts";

/** What a hold or release asks for: the user, whether to hold, and why. */
interface HoldRequest {
  /** The user. */
  userId: string;
  /** Hold (true) or release (false). */
  held: boolean;
  /** Recorded with the event. */
  reason?: string;
  /** Replace a hold already set (hold only). */
  replace?: boolean;
}

/** A timestamp as `YYYY-MM-DD HH:MM:SS UTC`. */
function utc(value: unknown): string {
  return `${new Date(String(value)).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** One sentence saying what state a row is in, for refusing an action that state cannot take. */
export function stateSentence(app: JsonRow): string {
  if (app.status === "deleted") {
    return `the user's app was deprovisioned on ${app.deleted_at ? utc(app.deleted_at) : "an unknown date"}`;
  }
  if (app.status === "suspended") {
    return `the user's app is suspended after a downgrade (machine stopped; deleted on ${
      app.delete_after ? utc(app.delete_after) : "the grace period's end"
    } unless the user upgrades again)`;
  }
  if (app.held_at) {
    return `the user's machine is held by ${app.held_by} since ${utc(app.held_at)} (${
      app.hold_reason ? `reason: ${app.hold_reason}` : "no reason given"
    }); release it first`;
  }
  return `the user's app is ${app.status} and has no machine recorded yet`;
}

/** Hold or release one user, then reconcile now. */
async function setHold(c: Context<AppEnv>, { userId: user_id, held, reason, replace }: HoldRequest) {
  const actor = actorOf(c);
  const repo = adminRepo(c);
  if (held) {
    const { app } = await repo.appDetail(user_id);
    if (app && (app.status === "deleted" || app.status === "suspended")) {
      throw new HttpError(409, "conflict", `cannot hold: ${stateSentence(app)}`);
    }
  }
  const row = await sqlAction(() => repo.setHold({ userId: user_id, held, actor, reason, replace }));
  const reconcile = await reconcileNow(c, user_id, actor);
  return c.json({
    user_id,
    actor,
    held: row.held_at !== null,
    held_at: row.held_at,
    held_by: row.held_by,
    hold_reason: row.hold_reason,
    reconcile,
  });
}

/**
 * Sets (`fields`) or clears (`{}`) a user's ops override, then reconciles now when the user has an app (the
 * override applies at once, like a tier change). A size the user's plan would make invalid on Fly, or an image
 * from outside `FLY_IMAGE_ALLOWED`, is a 400.
 */
async function setOverride(
  c: Context<AppEnv>,
  { userId: user_id, fields, reason }: { userId: string; fields: OverrideFields; reason?: string },
) {
  const actor = actorOf(c);
  assertImageAllowed(c, fields.image);
  const repo = adminRepo(c);
  if (fields.cpu_kind !== undefined || fields.cpus !== undefined || fields.memory_mb !== undefined) {
    const { tier, plan } = await repo.appDetail(user_id);
    const base = plan?.dedicated_app ? plan : {};
    const problem = guestProblem({
      cpu_kind: fields.cpu_kind ?? (base.cpu_kind as "shared" | "performance" | undefined) ?? "shared",
      cpus: fields.cpus ?? (base.cpus as number | undefined) ?? 1,
      memory_mb: fields.memory_mb ?? (base.memory_mb as number | undefined) ?? 256,
    });
    if (problem) {
      throw new HttpError(
        400,
        "invalid_request",
        `the size this override gives on the ${tier ?? "user's"} plan: ${problem}`,
      );
    }
  }
  const result = await sqlAction(() => repo.setOverride({ userId: user_id, fields, actor, reason }));
  const reconcile = result.due ? await reconcileNow(c, user_id, actor) : null;
  return c.json(
    { user_id, actor, override: result.override, reconcile },
    reconcile && reconcileFailed(reconcile) ? 502 : 200,
  );
}

/** The action routes. */
export const actionRoutes = new Hono<AppEnv>({ strict: false })
  .post("/apps/:user_id/retry", paramsOf(userIdParam), jsonBody(actionBody), async (c) => {
    const { user_id } = c.req.valid("param");
    const actor = actorOf(c);
    const { reason } = c.req.valid("json");
    const retried = await adminRepo(c).retry({ actor, userId: user_id, reason, limit: 1 });
    if (retried.length === 0) throw new HttpError(404, "not_found", "no app row for this user");
    const reconcile = await reconcileNow(c, user_id, actor);
    return c.json({ user_id, actor, reconcile }, reconcileFailed(reconcile) ? 502 : 200);
  })
  .post("/retry", jsonBody(bulkRetryBody), async (c) => {
    const actor = actorOf(c);
    const { statuses, limit, reason } = c.req.valid("json");
    const userIds = await adminRepo(c).retry({ actor, statuses, reason, limit });
    return c.json({
      actor,
      statuses,
      retried: userIds.length,
      user_ids: userIds,
      note: "the rows are due now; the controller reconciles them at Fly's rate limits (next kick or sweep)",
    }, 202);
  })
  .post(
    "/apps/:user_id/hold",
    paramsOf(userIdParam),
    jsonBody(holdBody),
    (c) => setHold(c, { userId: c.req.valid("param").user_id, held: true, ...c.req.valid("json") }),
  )
  .post(
    "/apps/:user_id/release",
    paramsOf(userIdParam),
    jsonBody(actionBody),
    (c) =>
      setHold(c, { userId: c.req.valid("param").user_id, held: false, reason: c.req.valid("json").reason }),
  )
  .put("/apps/:user_id/override", paramsOf(userIdParam), jsonBody(overrideBody), (c) => {
    const { reason, ...fields } = c.req.valid("json");
    return setOverride(c, { userId: c.req.valid("param").user_id, fields, reason });
  })
  .delete(
    "/apps/:user_id/override",
    paramsOf(userIdParam),
    jsonBody(actionBody),
    (c) =>
      setOverride(c, {
        userId: c.req.valid("param").user_id,
        fields: {},
        reason: c.req.valid("json").reason,
      }),
  )
  .post("/apps/:user_id/restart", paramsOf(userIdParam), jsonBody(actionBody), async (c) => {
    const { user_id } = c.req.valid("param");
    const actor = actorOf(c);
    const { reason } = c.req.valid("json");
    const repo = adminRepo(c);
    const { app } = await repo.appDetail(user_id);
    if (!app) throw new HttpError(404, "not_found", "no app row for this user");
    if (app.held_at || app.status === "deleted" || app.status === "suspended" || !app.machine_id) {
      throw new HttpError(409, "conflict", `cannot restart: ${stateSentence(app)}`);
    }
    const appName = String(app.fly_app_name);
    const machineId = String(app.machine_id);
    await repo.appendEvent(user_id, {
      type: "restart_requested",
      metadata: { actor, reason: reason ?? null, machine_id: machineId },
    });
    try {
      await engine(c).fly.machines.restart(appName, machineId);
    } catch (error) {
      const message = (error as Error).message;
      await repo.appendEvent(user_id, {
        type: "restart_failed",
        status: "error",
        metadata: { actor, machine_id: machineId },
        error: message,
      });
      throw new HttpError(502, "fly_error", `Fly refused the restart: ${message}`);
    }
    await repo.appendEvent(user_id, {
      type: "machine_restarted",
      status: "ok",
      metadata: { actor, machine_id: machineId },
    });
    return c.json({ user_id, actor, machine_id: machineId, restarted: true });
  });
