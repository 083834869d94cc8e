/**
 * Action commands: `provision USER`, `deprovision USER`, `retry USER|--status S|--all-failed`, `hold USER`,
 * `release USER`, `restart USER`, `override USER [--cpu-kind K] [--cpus N] [--memory-mb N] [--region R]
 * [--image REF] | --clear`. The admin actions record the operator (`--actor`, `OPS_ACTOR`) in events.
 *
 * @module
 */
import type { Command } from "commander";
import { UsageError } from "../errors.ts";
import { details } from "../output.ts";
import { type InferRequestType, parseResponse } from "hono/client";
import type { AdminClient } from "../client.ts";
import { admin, type CommandContext, positiveInt, print, userId, withJson } from "../context.ts";

/** The statuses of a bulk retry, as the API takes them. */
type RetryStatuses = InferRequestType<AdminClient["retry"]["$post"]>["json"]["statuses"];

/** Statuses `--all-failed` retries. */
const FAILED_STATUSES: RetryStatuses = ["error", "failed"];

/** One-line verdict of a reconcile as the API reports it. */
function outcome(result: Record<string, unknown>): string {
  const reconcile = (result.reconcile ?? result) as {
    outcome?: string;
    error?: { message?: string } | string;
  };
  const error = typeof reconcile.error === "string" ? reconcile.error : reconcile.error?.message;
  return `${reconcile.outcome ?? "done"}${error ? `: ${error}` : ""}`;
}

/** Registers the action commands. */
export function registerActionCommands(program: Command, ctx: CommandContext): void {
  for (const verb of ["provision", "deprovision"] as const) {
    withJson(
      program.command(verb).description(
        `reconcile a user now through ${verb}-user-fly-app (the tier decides)`,
      )
        .argument("<user>", "user id", userId)
        .option("--async", "answer at once (202) instead of waiting for the outcome"),
    ).action(async (user, options) => {
      const result = await ctx.api().call({
        fn: `${verb}-user-fly-app`,
        method: "POST",
        query: options.async ? undefined : { wait: "true" },
        body: { user_id: user, reason: "ops" },
      });
      print(ctx, options, result, (r) => {
        const answer = r as Record<string, unknown>;
        return answer.accepted ? `accepted (request ${answer.request_id})` : `${user}: ${outcome(answer)}`;
      });
    });
  }

  withJson(
    program.command("retry").description(
      "retry a user now, or every row with a status (due now, at the rate limits)",
    )
      .argument("[user]", "user id", userId)
      .option("--status <statuses>", "retry every row with these statuses (comma-separated)")
      .option("--all-failed", `retry every ${FAILED_STATUSES.join(" and ")} row`)
      .option("--limit <n>", "at most this many rows", positiveInt)
      .option("--reason <text>", "recorded in the events"),
  ).action(async (user, options) => {
    const chosen = [user !== undefined, options.status !== undefined, Boolean(options.allFailed)].filter(
      Boolean,
    );
    if (chosen.length !== 1) {
      throw new UsageError("retry needs exactly one of USER, --status or --all-failed");
    }
    if (user) {
      const result = await parseResponse(
        admin(ctx).apps[":user_id"].retry.$post({
          param: { user_id: user },
          json: { reason: options.reason },
        }),
      );
      print(ctx, options, result, (r) => `${user}: ${outcome(r)}`);
      return;
    }
    // What the operator typed is checked by the API (400 naming the status), not here.
    const statuses = (options.allFailed
      ? FAILED_STATUSES
      : String(options.status).split(",").map((s) =>
        s.trim()
      )) as RetryStatuses;
    const result = await parseResponse(
      admin(ctx).retry.$post({
        json: { statuses, limit: options.limit, reason: options.reason },
      }),
    );
    print(ctx, options, result, (r) => `${r.retried} row(s) retried (${statuses.join(", ")}): ${r.note}`);
  });

  /** A hold's answer as key/value lines. */
  const holdDetails = (
    user: string,
    r: { held: boolean; held_at: unknown; held_by: unknown; hold_reason: unknown },
  ) =>
    details({
      user,
      held: r.held,
      since: r.held_at,
      by: r.held_by,
      reason: r.hold_reason,
      reconcile: outcome(r),
    }, ctx.layout());

  withJson(
    program.command("hold").description(
      "stop a user's machine and keep it stopped (the sweep reports, never repairs it)",
    )
      .argument("<user>", "user id", userId)
      .option("--reason <text>", "recorded in the events")
      .option("--replace", "take over a hold already set (the event records the hold it replaces)"),
  ).action(async (user, options) => {
    const result = await parseResponse(
      admin(ctx).apps[":user_id"].hold.$post({
        param: { user_id: user },
        json: { reason: options.reason, replace: options.replace ? true : undefined },
      }),
    );
    print(ctx, options, result, (r) => holdDetails(user, r));
  });

  withJson(
    program.command("release").description("release a hold: the machine is started again")
      .argument("<user>", "user id", userId)
      .option("--reason <text>", "recorded in the events"),
  ).action(async (user, options) => {
    const result = await parseResponse(
      admin(ctx).apps[":user_id"].release.$post({
        param: { user_id: user },
        json: { reason: options.reason },
      }),
    );
    print(ctx, options, result, (r) => holdDetails(user, r));
  });

  withJson(
    program.command("override").description(
      "pin one user's size, region or image over their plan (applied at once); --clear returns them to it",
    )
      .argument("<user>", "user id", userId)
      .option("--cpu-kind <kind>", "shared or performance")
      .option("--cpus <n>", "CPUs (1, 2, 4, 8 or 16)", positiveInt)
      .option("--memory-mb <n>", "memory in MB", positiveInt)
      .option("--region <region>", "Fly region code")
      .option("--image <ref>", "image reference (a rollout leaves the user alone while pinned)")
      .option("--clear", "remove the override: the user runs their plan again")
      .option("--reason <text>", "recorded with the override and in the events"),
  ).action(async (user, options) => {
    const fields = {
      cpu_kind: options.cpuKind,
      cpus: options.cpus,
      memory_mb: options.memoryMb,
      region: options.region,
      image: options.image,
    };
    const named = Object.values(fields).some((value) => value !== undefined);
    if (named === Boolean(options.clear)) {
      throw new UsageError(
        "override needs --clear, or at least one of --cpu-kind, --cpus, --memory-mb, --region, --image",
      );
    }
    const route = admin(ctx).apps[":user_id"].override;
    const result = await parseResponse(
      options.clear
        ? route.$delete({ param: { user_id: user }, json: { reason: options.reason } })
        : route.$put({ param: { user_id: user }, json: { ...fields, reason: options.reason } }),
    );
    print(ctx, options, result, (r) =>
      details({
        user,
        override: r.override ?? "none (the plan applies)",
        reconcile: r.reconcile ? outcome(r) : "no app: applies when the user gets one",
      }, ctx.layout()));
  });

  withJson(
    program.command("restart").description("restart a user's machine on Fly (refused while held)")
      .argument("<user>", "user id", userId)
      .option("--reason <text>", "recorded in the events"),
  ).action(async (user, options) => {
    const result = await parseResponse(
      admin(ctx).apps[":user_id"].restart.$post({
        param: { user_id: user },
        json: { reason: options.reason },
      }),
    );
    print(ctx, options, result, (r) => `restarted machine ${r.machine_id} of ${user}`);
  });
}
