/**
 * Snapshot routes of the admin API (`ops snapshots USER`, `ops snapshot USER`):
 *
 * - `GET /apps/:user_id/snapshots`: the snapshots this system took of the user's volumes (final and ops;
 *   a `requested` one is looked at once and recorded if Fly has it `created` now), and Fly's own listing of
 *   the current volume (daily automatic ones included), or null without a volume.
 * - `POST /apps/:user_id/snapshots` `{reason?}`: an on-demand snapshot of the user's current volume, audited
 *   with the actor (`snapshot_requested`, then `volume_snapshotted` or `snapshot_failed`); 201 once `created`,
 *   202 when still being taken after the request's budget (recorded once seen created). 409 without a
 *   volume, 502 when Fly refuses (e.g. the volume's host is unreachable).
 * - `POST /apps/:user_id/restore` `{snapshot_id?, revert?, keep_days?, reason?}`: records a restore (a new
 *   volume from the snapshot, default the newest one within its retention in the user's region) or a revert
 *   (back onto the volume the last restore kept) with the actor (`restore_requested`), then reconciles now:
 *   the controller moves the machine onto the volume and keeps the old one detached for `keep_days`
 *   (default 7). 409 without a volume, a pending move, no snapshot or nothing to revert to.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEvent } from "../db/user_fly_apps.ts";
import type { VolumeSnapshot } from "../fly/mod.ts";
import { refreshSnapshot, type SnapshotContext, takeOpsSnapshot } from "../engine/snapshot_step.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpError } from "../http/errors.ts";
import { jsonBody, paramsOf } from "../http/validate.ts";
import { stateSentence } from "./action_routes.ts";
import { actorOf, adminRepo, engine } from "./request.ts";
import { reconcileFailed, reconcileNow } from "./reconcile_now.ts";
import { actionBody, restoreBody, userIdParam } from "./schemas.ts";

/** How long an ops snapshot request waits for Fly to finish it before answering 202. */
const OPS_SNAPSHOT_WAIT_MS = 20_000;

/** A snapshot context for one user, with `waitMs` to wait and the events it writes collected. */
function snapshotContext(c: Context<AppEnv>, userId: string, waitMs: number): SnapshotContext {
  const deps = engine(c);
  return {
    fly: deps.fly,
    repo: deps.repo,
    deadline: Date.now() + waitMs,
    signal: c.req.raw.signal,
    events: [],
    row: { user_id: userId },
  };
}

/** Appends the events a snapshot context collected to the user's log. */
async function appendEvents(c: Context<AppEnv>, userId: string, events: AppEvent[]): Promise<void> {
  for (const event of events) {
    await adminRepo(c).appendEvent(userId, {
      type: event.event_type,
      status: event.status,
      metadata: event.metadata ?? {},
      error: event.error_details ?? undefined,
    });
  }
}

/** The user's row, 404 when there is none. */
async function appOf(c: Context<AppEnv>, userId: string) {
  const { app } = await adminRepo(c).appDetail(userId);
  if (!app) throw new HttpError(404, "not_found", "no app row for this user");
  return app;
}

/** The snapshot routes. */
export const snapshotRoutes = new Hono<AppEnv>({ strict: false })
  .get("/apps/:user_id/snapshots", paramsOf(userIdParam), async (c) => {
    const { user_id } = c.req.valid("param");
    const app = await appOf(c, user_id);
    const ctx = snapshotContext(c, user_id, 0);
    const rows = await Promise.all(
      (await ctx.repo.snapshots.list(user_id)).map((row) =>
        row.status === "requested" ? refreshSnapshot(ctx, row) : row
      ),
    );
    await appendEvents(c, user_id, ctx.events);
    let fly: VolumeSnapshot[] | null = null;
    if (app.volume_id && app.fly_app_name && app.status !== "deleted") {
      fly = await ctx.fly.volumes.listSnapshots(String(app.fly_app_name), String(app.volume_id));
    }
    return c.json({ user_id, volume_id: (app.volume_id as string | null) ?? null, snapshots: rows, fly });
  })
  .post("/apps/:user_id/snapshots", paramsOf(userIdParam), jsonBody(actionBody), async (c) => {
    const { user_id } = c.req.valid("param");
    const actor = actorOf(c);
    const { reason } = c.req.valid("json");
    const app = await appOf(c, user_id);
    if (!app.volume_id || !app.fly_app_name || app.status === "deleted") {
      throw new HttpError(
        409,
        "conflict",
        `cannot snapshot: ${
          app.status === "deleted" ? stateSentence(app) : "the user has no volume recorded"
        }`,
      );
    }
    const appName = String(app.fly_app_name);
    const ctx = snapshotContext(c, user_id, OPS_SNAPSHOT_WAIT_MS);
    try {
      const volume = await ctx.fly.volumes.get(appName, String(app.volume_id));
      const row = await takeOpsSnapshot(ctx, { appName, volume, actor, note: reason });
      await appendEvents(c, user_id, ctx.events);
      return c.json({ user_id, actor, snapshot: row }, row.status === "created" ? 201 : 202);
    } catch (error) {
      const message = (error as Error).message;
      ctx.events.push({
        event_type: "snapshot_failed",
        status: "error",
        error_details: message,
        metadata: { actor, note: reason ?? null, volume_id: app.volume_id },
      });
      await appendEvents(c, user_id, ctx.events);
      throw new HttpError(502, "fly_error", `the snapshot failed: ${message}`);
    }
  })
  .post("/apps/:user_id/restore", paramsOf(userIdParam), jsonBody(restoreBody), async (c) => {
    const { user_id } = c.req.valid("param");
    const actor = actorOf(c);
    const body = c.req.valid("json");
    const app = await appOf(c, user_id);
    if (!app.volume_id || !["active", "held"].includes(String(app.status))) {
      throw new HttpError(
        409,
        "conflict",
        `cannot restore: ${app.volume_id ? stateSentence(app) : "the user has no volume recorded"}`,
      );
    }
    const { repo } = engine(c);
    let snapshotId: string | undefined;
    let toVolumeId: string | undefined;
    if (body.revert) {
      const [last] = await repo.moves.kept(user_id);
      if (!last || last.kind === "revert" || last.to_volume_id !== app.volume_id) {
        throw new HttpError(
          409,
          "conflict",
          "cannot revert: no volume kept by the user's last restore or recovery",
        );
      }
      toVolumeId = last.from_volume_id;
    } else {
      const snapshot = body.snapshot_id
        ? await repo.snapshots.byId(user_id, body.snapshot_id)
        : await repo.snapshots.latestRestorable(user_id, String(app.region));
      if (!snapshot || snapshot.status !== "created" || Date.parse(snapshot.expires_at ?? "") <= Date.now()) {
        throw new HttpError(
          409,
          "conflict",
          body.snapshot_id
            ? `cannot restore: ${body.snapshot_id} is not a created snapshot of this user within its retention`
            : "cannot restore: the user has no created snapshot within its retention (take one: ops snapshot)",
        );
      }
      snapshotId = snapshot.snapshot_id ?? undefined;
    }
    const move = await repo.moves.request({
      userId: user_id,
      kind: body.revert ? "revert" : "restore",
      snapshotId,
      fromVolumeId: String(app.volume_id),
      toVolumeId,
      keepDays: body.keep_days,
      actor,
      reason: body.reason,
    });
    if (!move) throw new HttpError(409, "conflict", "cannot restore: a restore or revert is already pending");
    await adminRepo(c).appendEvent(user_id, {
      type: "restore_requested",
      metadata: {
        actor,
        kind: move.kind,
        snapshot_id: move.snapshot_id,
        from_volume_id: move.from_volume_id,
        to_volume_id: move.to_volume_id,
        keep_days: move.keep_days,
        reason: body.reason ?? null,
      },
    });
    const reconcile = await reconcileNow(c, user_id, actor);
    const applied = await repo.moves.kept(user_id);
    return c.json(
      { user_id, actor, kind: move.kind, move: applied.find((m) => m.id === move.id) ?? move, reconcile },
      reconcileFailed(reconcile) ? 502 : 200,
    );
  });
