/**
 * Handlers of `provision-user-fly-app` and `deprovision-user-fly-app`. Both run the same reconcile: the
 * desired state comes from the user's current tier, so a late or duplicated kick can never undo a newer
 * change. POST answers 202 at once and reconciles in the background (trigger), or with `?wait=true` answers
 * with the outcome (ops). The provision function also takes a batch `{user_ids}` (the tier-outbox drainer's
 * one kick per batch). GET shows the user's state.
 *
 * @module
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { runInBackground } from "../http/background.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpError } from "../http/errors.ts";
import type { FunctionHandlers } from "../http/app.ts";
import { isUsersBody, type userBody, type usersBody } from "../http/schemas.ts";
import { mapBounded } from "../reconcile/bounded.ts";
import { type ControllerResult, reconcileUser } from "../reconcile/controller.ts";
import type { z } from "zod";
import { engineDeps } from "./engine_deps.ts";

type UserAppFunction = "provision-user-fly-app" | "deprovision-user-fly-app";

/** HTTP status and body for a synchronous reconcile's result. */
function describe(result: ControllerResult): { status: ContentfulStatusCode; body: Record<string, unknown> } {
  switch (result.outcome) {
    case "converged":
      return { status: 200, body: { outcome: result.outcome, desired_state: result.desiredState } };
    case "up_to_date":
      return { status: 200, body: { outcome: result.outcome } };
    case "progressing":
      // Not a failure: Fly is still getting there (a machine booting) and the row is due again soon.
      return {
        status: 202,
        body: {
          outcome: result.outcome,
          desired_state: result.desiredState,
          waiting_for: result.error,
          next_attempt_at: result.app.next_attempt_at,
        },
      };
    case "failed":
    case "terminal":
      return {
        status: 502,
        body: {
          outcome: result.outcome,
          desired_state: result.desiredState,
          error: { code: "reconcile_failed", message: result.error },
          retryable: result.outcome === "failed",
          next_attempt_at: result.app.next_attempt_at,
        },
      };
    case "busy":
      return {
        status: 409,
        body: {
          error: { code: "reconcile_in_progress", message: "another reconcile holds this user's lease" },
        },
      };
    case "lease_lost":
      return {
        status: 409,
        body: {
          error: { code: "lease_lost", message: "the lease expired and another reconciler took over" },
        },
      };
    case "no_row":
      return {
        status: 404,
        body: {
          error: {
            code: "not_found",
            message: "no app row for this user (never on a paid tier?); the health sweep adds missing rows",
          },
        },
      };
  }
}

/**
 * POST `{user_ids}`: reconciles each user to what their current tier says (present or absent),
 * `reconcile.batchConcurrency` at a time, within one `reconcile.budgetMs` for the whole batch. Users not
 * started before the budget ends are left due for the health sweep. 202 at once unless `wait`.
 */
async function reconcileBatch(
  input: { name: UserAppFunction; body: z.output<typeof usersBody>; wait: boolean },
  c: Context<AppEnv>,
): Promise<Response> {
  const config = c.get("config");
  const log = c.get("log").child({ batch_users: input.body.user_ids.length });
  const deps = engineDeps(config, log);
  const deadline = Date.now() + config.reconcile.budgetMs;
  const owner = `${input.name}:${c.get("requestId")}`;
  const reason = input.body.reason ?? (input.wait ? "ops" : "kick");
  const run = () =>
    mapBounded(input.body.user_ids, config.reconcile.batchConcurrency, async (userId) => {
      if (Date.now() >= deadline) return { user_id: userId, outcome: "left_for_sweep" };
      const result = await reconcileUser(deps, { userId, owner, deadline, reason });
      return { user_id: userId, outcome: result.outcome };
    });
  if (!input.wait) {
    runInBackground("reconcile batch", run(), log);
    return c.json({ accepted: true, users: input.body.user_ids.length, request_id: c.get("requestId") }, 202);
  }
  return c.json({ results: await run() }, 200);
}

/** The handlers of one of the two per-user functions. */
export function userAppHandlers<N extends UserAppFunction>(name: N): FunctionHandlers<N> {
  return {
    async post(input, c: Context<AppEnv>) {
      if (isUsersBody(input.body)) {
        return await reconcileBatch({ name, body: input.body, wait: input.wait }, c);
      }
      const { wait } = input;
      const body = input.body as z.output<typeof userBody>;
      const config = c.get("config");
      const log = c.get("log").child({ user_id: body.user_id });
      const deps = engineDeps(config, log);
      const request = {
        userId: body.user_id,
        owner: `${name}:${c.get("requestId")}`,
        deadline: Date.now() + config.reconcile.budgetMs,
        reason: body.reason ?? (wait ? "ops" : "kick"),
        generation: body.generation,
      };
      if (!wait) {
        const work = reconcileUser(deps, request).then((result) => {
          if (result.outcome === "no_row") {
            log.info("nothing to do: the user has no app row (never on a paid tier, or not drained yet)");
          }
        });
        runInBackground("reconcile", work, log);
        return c.json({ accepted: true, user_id: body.user_id, request_id: c.get("requestId") }, 202);
      }
      const { status, body: result } = describe(await reconcileUser(deps, request));
      const state = await deps.repo.status(body.user_id);
      return c.json({ user_id: body.user_id, ...result, state }, status);
    },
    async get({ user_id }, c: Context<AppEnv>) {
      const deps = engineDeps(c.get("config"), c.get("log"));
      const state = await deps.repo.status(user_id);
      if (!state) throw new HttpError(404, "not_found", "no subscription or app is known for this user");
      return c.json(state, 200);
    },
  };
}
