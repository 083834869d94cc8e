/**
 * The batch form of the per-user functions, `POST {user_ids, reason?}` (the tier-outbox drainer's one kick per
 * batch, or ops): each user reconciled to the desired state recorded on their row, `reconcile.batchConcurrency` at a
 * time, within one `reconcile.budgetMs`. A user whose current desired state another reconciler has already
 * settled (the sweep's due lane, an earlier hop) is skipped as `up_to_date`.
 *
 * One invocation is one hop. It starts users until a sixth of its budget (at most 10 s) is left, so the users
 * it started can finish, or until the runtime announces the worker's end (`beforeunload`). A background hop
 * then hands the users it never started on to a fresh invocation of the same function (a new worker with a
 * new wall clock) and lets its own users finish: a batch of any size moves at the pace of Fly's limits, hop
 * after hop, without waiting for the health sweep. A hop that started nobody hands nothing on (the chain
 * always shrinks); its users, and those of a hand-on that fails, stay due for the sweep. A `?wait=true` call
 * never hands on: it answers with each user's outcome, `left_for_sweep` for those it did not start.
 *
 * @module
 */
import type { Context } from "hono";
import type { z } from "zod";
import { runInBackground } from "../http/background.ts";
import type { AppEnv } from "../http/env.ts";
import type { usersBody } from "../http/schemas.ts";
import { invokeFunction } from "../http/self_invoke.ts";
import { workerShutdownSignal } from "../http/worker_shutdown.ts";
import { attemptOwner } from "../http/lease_owner.ts";
import type { Logger } from "../log.ts";
import type { Config } from "../config.ts";
import { mapBoundedUntil } from "../bounded.ts";
import { takeNoWorkAfter } from "../engine/context.ts";
import { reconcileUser } from "../controller/controller.ts";
import { engineDeps } from "./engine_deps.ts";

/** The two per-user functions (only the provision function's schema accepts the batch form). */
export type UserAppFunction = "provision-user-fly-app" | "deprovision-user-fly-app";

/** One user's line in a batch's results. */
interface BatchResult {
  user_id: string;
  outcome: string;
}

/**
 * Sends the users a hop never started to a new invocation of `name` with the same reason; logs where they
 * went (the next hop's request id) or, when the call failed, that they wait for the sweep.
 */
async function handOn(
  config: Config,
  log: Logger,
  hop: { name: UserAppFunction; userIds: string[]; started: number; reason: string },
): Promise<void> {
  if (hop.started === 0) {
    log.warn("batch hop started no user; the rest is left for the health sweep", {
      users: hop.userIds.length,
    });
    return;
  }
  const result = await invokeFunction(config, {
    name: hop.name,
    body: { user_ids: hop.userIds, reason: hop.reason },
  });
  if (result.ok) {
    const next = (result.body as { request_id?: unknown } | null)?.request_id;
    log.info("batch handed on", { users: hop.userIds.length, started: hop.started, next_request_id: next });
  } else {
    log.warn("could not hand the batch on; the users wait for the health sweep", {
      users: hop.userIds.length,
      status: result.status,
      error: result.error,
    });
  }
}

/**
 * POST `{user_ids}`: one hop over the batch (see the module doc). 202 at once and a background hop, or with
 * `wait` 200 and each user's outcome.
 */
export async function reconcileBatch(
  input: { name: UserAppFunction; body: z.output<typeof usersBody>; wait: boolean },
  c: Context<AppEnv>,
): Promise<Response> {
  const config = c.get("config");
  const userIds = input.body.user_ids;
  const log = c.get("log").child({ batch_users: userIds.length });
  const deps = engineDeps(config, log);
  const deadline = Date.now() + config.reconcile.budgetMs;
  const reason = input.body.reason ?? (input.wait ? "ops" : "kick");
  const stop = AbortSignal.any([
    AbortSignal.timeout(Math.max(0, takeNoWorkAfter(deadline, config.reconcile.budgetMs) - Date.now())),
    workerShutdownSignal(),
  ]);

  const run = async (): Promise<BatchResult[]> => {
    let handingOn: Promise<void> | undefined;
    const hop = await mapBoundedUntil(userIds, {
      concurrency: config.reconcile.batchConcurrency,
      stop,
      // At once, not after the started users finish: the next hop overlaps this one's last users.
      onStop: (rest) => {
        if (!input.wait) {
          handingOn = handOn(config, log, {
            name: input.name,
            userIds: rest,
            started: userIds.length - rest.length,
            reason,
          });
        }
      },
    }, async (userId): Promise<BatchResult> => {
      const owner = attemptOwner(input.name);
      const result = await reconcileUser(deps, { userId, owner, deadline, reason, generation: "current" });
      return { user_id: userId, outcome: result.outcome };
    });
    await handingOn;
    return [
      ...hop.results,
      ...hop.notStarted.map((userId) => ({ user_id: userId, outcome: "left_for_sweep" })),
    ];
  };

  if (!input.wait) {
    runInBackground("reconcile batch", run(), log);
    return c.json({ accepted: true, users: userIds.length, request_id: c.get("requestId") }, 202);
  }
  return c.json({ results: await run() }, 200);
}
