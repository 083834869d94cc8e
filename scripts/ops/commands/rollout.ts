/**
 * Rollout commands: `rollout start --image REF [--tier T] [--canary N] [--batch N] [--max-failures N]
 * [--health-timeout S] [--reason …]` (prints the rollout id), `rollout status [ID] [--json]` (the latest
 * rollout without ID), `rollout pause|resume|abort|rollback ID`. Through the admin API's `/rollouts` routes;
 * the operator (`--actor`, `OPS_ACTOR`) is recorded in the rollout's events.
 *
 * @module
 */
import { type Command, InvalidArgumentError } from "commander";
import { OperationError } from "../errors.ts";
import { details, table } from "../output.ts";
import { parseResponse } from "hono/client";
import { admin, type CommandContext, positiveInt, print, withJson } from "../context.ts";
import { ROLLOUT_TARGET_STATES } from "../../../supabase/functions/_shared/vocabulary.ts";

/** A row of the API. */
type Row = Record<string, unknown>;

/** The status answer of `GET /rollouts/:id`. */
interface RolloutStatus {
  rollout: Row;
  batches: Row[];
  events: Row[];
}

/** Actions on one rollout. */
const ACTIONS = ["pause", "resume", "abort", "rollback"] as const;

/** A rollout id argument (UUID). */
function rolloutId(value: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw new InvalidArgumentError(`${value} is not a rollout id (UUID)`);
  }
  return value.toLowerCase();
}

/** A non-negative integer option value. */
function count(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) {
    throw new InvalidArgumentError(`${value} is not a non-negative integer`);
  }
  return number;
}

/** One line per rollout: id, state, progress. */
function summary(r: Row): string {
  return `${r.id} ${r.state}${
    r.direction === "rollback" ? " (rollback)" : ""
  }: ${r.healthy}/${r.total} healthy, ` +
    `${r.failed} failed${r.image_digest ? `, digest ${r.image_digest}` : ""}${r.error ? `; ${r.error}` : ""}`;
}

/** The status as the CLI prints it: the rollout's fields at the top, its batches and events. */
function flatStatus(status: RolloutStatus): Row {
  return { ...status.rollout, batches: status.batches, events: status.events };
}

/** Registers `rollout` and its subcommands. */
export function registerRolloutCommands(program: Command, ctx: CommandContext): void {
  const rollout = program.command("rollout").description(
    "roll a new image (or plan) out to the fleet: canaries first, then batches, each gated on health",
  );

  withJson(
    rollout.command("start").description("start a rollout; prints its id")
      .requiredOption("--image <ref>", "the image to roll out (registry/name:tag)")
      .option("--tier <tier>", "only this tier's users (default: every tier with an app)")
      .option("--canary <n>", "canaries first (default 1)", count)
      .option(
        "--batch <n>",
        "machines per batch after the canaries (default: a third of the fleet)",
        positiveInt,
      )
      .option("--max-failures <n>", "failures tolerated after the canaries before halting (default 0)", count)
      .option(
        "--health-timeout <s>",
        "seconds a machine may take to pass its checks (default 300)",
        positiveInt,
      )
      .option("--wake", "start idle machines to run the health gate on them (the proxy idles them again)")
      .option("--reason <text>", "recorded with the rollout"),
  ).action(async (options) => {
    const result = await parseResponse(
      admin(ctx).rollouts.$post({
        json: {
          image: options.image,
          tier: options.tier,
          canary: options.canary,
          batch: options.batch,
          max_failures: options.maxFailures,
          health_timeout_s: options.healthTimeout,
          wake: options.wake,
          reason: options.reason,
        },
      }),
    );
    print(ctx, options, result, (r) => String(r.rollout.id));
  });

  withJson(
    rollout.command("status").description("a rollout's progress (the latest without ID)")
      .argument("[id]", "rollout id", rolloutId),
  ).action(async (id, options) => {
    let target = id;
    if (!target) {
      const { rollouts } = await parseResponse(admin(ctx).rollouts.$get({ query: { limit: 1 } }));
      if (rollouts.length === 0) throw new OperationError("no rollout yet", 0, null);
      target = String(rollouts[0].id);
    }
    const status = await parseResponse(admin(ctx).rollouts[":id"].$get({ param: { id: target } }));
    print(ctx, options, flatStatus(status), () =>
      [
        summary(status.rollout),
        details({
          image: (status.rollout.target as Row)?.image,
          tier: status.rollout.tier ?? "all",
          canaries: status.rollout.canary_count,
          batch_size: status.rollout.batch_size,
          updated: status.rollout.updated,
          rolled_back: status.rollout.rolled_back,
          created_by: status.rollout.created_by,
        }, ctx.layout()),
        table(status.batches, [
          { header: "batch", value: (b) => b.batch },
          ...ROLLOUT_TARGET_STATES.map(
            (state) => ({ header: state, value: (b: Row) => b[state] ?? 0 }),
          ),
        ], { layout: ctx.layout() }),
        table(status.events.slice(-10), [
          { header: "at", value: (e) => e.created_at },
          { header: "event", value: (e) => e.event_type },
          { header: "actor", value: (e) => e.actor },
          { header: "reason", value: (e) => e.reason },
        ], { layout: ctx.layout(), empty: "no events" }),
      ].join("\n"));
  });

  for (const action of ACTIONS) {
    withJson(
      rollout.command(action).description(`${action} a rollout`)
        .argument("<id>", "rollout id", rolloutId)
        .option("--reason <text>", "recorded in the rollout's events"),
    ).action(async (id, options) => {
      const result = await parseResponse(
        admin(ctx).rollouts[":id"][":action"].$post({
          param: { id, action },
          json: { reason: options.reason },
        }),
      );
      print(ctx, options, result, (r) => `${r.changed ? "" : "(unchanged) "}${summary(r.rollout)}`);
    });
  }
  // Subcommands report usage errors and help like the top-level commands.
  for (const command of rollout.commands) {
    command.configureOutput(program.configureOutput()).exitOverride().showHelpAfterError(
      "(add --help for usage)",
    );
  }
}
