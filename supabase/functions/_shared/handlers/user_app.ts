/**
 * Handlers of `provision-user-fly-app` and `deprovision-user-fly-app`. Both run the same reconcile: the
 * desired state is the one the drainer recorded on the user's row (its latest generation), so a late or
 * duplicated kick can never undo a newer change. POST answers 202 at once and reconciles in the background (trigger), or with `?wait=true` answers
 * with the outcome (ops). The provision function also takes a batch `{user_ids}` (the tier-outbox drainer's
 * one kick per batch; see user_batch.ts). GET shows the user's state.
 *
 * @module
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { runInBackground } from "../http/background.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpError } from "../http/errors.ts";
import type { FunctionHandlers } from "../http/app.ts";
import { isUsersBody, type userBody } from "../http/schemas.ts";
import { type ControllerResult, reconcileUser } from "../controller/controller.ts";
import type { z } from "zod";
import { engineDeps } from "./engine_deps.ts";
import { attemptOwner } from "../http/lease_owner.ts";
import { reconcileBatch, type UserAppFunction } from "./user_batch.ts";

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
        owner: attemptOwner(name),
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
      const state = await deps.repo.status.status(body.user_id);
      return c.json({ user_id: body.user_id, ...result, state }, status);
    },
    async get({ user_id }, c: Context<AppEnv>) {
      const deps = engineDeps(c.get("config"), c.get("log"));
      const state = await deps.repo.status.status(user_id);
      if (!state) throw new HttpError(404, "not_found", "no subscription or app is known for this user");
      return c.json(state, 200);
    },
  };
}
