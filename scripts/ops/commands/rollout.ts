/**
 * Rollout commands: `rollout start --image REF [--tier T] [--canary N] [--batch N] [--stages 1,10,50,100]
 * [--users ID,…] [--cohort NAME] [--bake S] [--max-failures N] [--health-timeout S] [--reason …]` (prints
 * the rollout id), `rollout status [ID] [--json]` (the latest rollout without ID: one line per batch and a
 * line per target in its gate, failed or skipped), `rollout list`, `rollout pause|resume|abort|rollback ID`,
 * `rollout cohort save NAME --users ID,…` / `rollout cohort list`, and `versions` (machines per image digest
 * and tier). Through the admin API's `/rollouts`, `/rollout-cohorts` and `/versions` routes; the operator
 * (`--actor`, `OPS_ACTOR`) is recorded in the rollout's events.
 *
 * @module
 */
import { type Command, InvalidArgumentError } from "commander";
import { OperationError } from "../errors.ts";
import { details, table } from "../output.ts";
import { parseResponse } from "hono/client";
import { admin, type CommandContext, positiveInt, print, withJson } from "../context.ts";
import { imageTag } from "../../../supabase/functions/_shared/image_ref.ts";

/** A row of the API. */
type Row = Record<string, unknown>;

/** The status answer of `GET /rollouts/:id`. */
interface RolloutStatus {
  rollout: Row;
  batches: Row[];
  targets: Row[];
  bake: Row | null;
  lines: string[];
  events: Row[];
}

/** Actions on one rollout. */
const ACTIONS = ["pause", "resume", "abort", "rollback"] as const;

/** A UUID. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A rollout id argument (UUID). */
function rolloutId(value: string): string {
  if (!UUID.test(value)) {
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

/** A comma-separated list option value. */
function list(value: string): string[] {
  return value.split(",").map((part) => part.trim()).filter((part) => part !== "");
}

/** `--stages 1,10,50,100`: increasing percentages ending at 100. */
function stages(value: string): number[] {
  const numbers = list(value).map(Number);
  const valid = numbers.length > 0 && numbers.every((n, i) =>
    Number.isInteger(n) && n >= 1 && n <= 100 &&
    (i === 0 || n > numbers[i - 1])
  ) && numbers[numbers.length - 1] === 100;
  if (!valid) throw new InvalidArgumentError(`${value} is not increasing percentages ending at 100`);
  return numbers;
}

/** `--users ID,…`: user ids. */
function userIds(value: string): string[] {
  const ids = list(value);
  if (ids.length === 0 || ids.some((id) => !UUID.test(id))) {
    throw new InvalidArgumentError(`${value} is not a list of user ids (UUIDs)`);
  }
  return ids.map((id) => id.toLowerCase());
}

/** The tag a version goes by: its own reference's, or that of the rollout that pinned its digest. */
export function versionTag(version: { image: string | null; rollout_image: string | null }): string {
  const tags = [version.image, version.rollout_image].map((image) => image && imageTag(image));
  return tags.find((tag) => tag) ?? "-";
}

/** One line per rollout: id, state, progress. */
function summary(r: Row): string {
  const skipped = Number(r.skipped ?? 0) > 0 ? `, ${r.skipped} skipped` : "";
  return `${r.id} ${r.state}${
    r.direction === "rollback" ? " (rollback)" : ""
  }: ${r.healthy}/${r.total} healthy, ` +
    `${r.failed} failed${skipped}${r.image_digest ? `, digest ${r.image_digest}` : ""}${
      r.error ? `; ${r.error}` : ""
    }`;
}

/** What a running rollout waits for, in one line (empty when it waits for nothing). */
function waitingLine(status: RolloutStatus): string {
  if (status.rollout.state !== "running") return "";
  if (status.bake) return `waiting: bake of batch ${status.bake.batch}, ${status.bake.seconds_left} s left`;
  const inGate = status.targets.filter((t) => String(t.label ?? "").includes("gate ("));
  if (inGate.length === 0) return "waiting: the next driver run";
  const left = Math.max(...inGate.map((t) => Number(t.gate_seconds_left ?? 0)));
  return `waiting: ${inGate.length} health gate(s), at most ${left} s left`;
}

/** The status as the CLI prints it: the rollout's fields at the top, its batches, targets and events. */
function flatStatus(status: RolloutStatus): Row {
  return {
    ...status.rollout,
    batches: status.batches,
    targets: status.targets,
    bake: status.bake,
    lines: status.lines,
    events: status.events,
  };
}

/** Registers `rollout` and its subcommands. */
export function registerRolloutCommands(program: Command, ctx: CommandContext): void {
  const rollout = program.command("rollout").description(
    "roll a new image (or plan) out to the fleet: canaries, named users, then stages in batches, each gated on health",
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
      .option(
        "--stages <list>",
        "percentages of the users, in order, ending at 100 (e.g. 1,10,50,100)",
        stages,
      )
      .option("--users <ids>", "these users go first, before the first stage (comma-separated ids)", userIds)
      .option("--cohort <name>", "a saved cohort's users go first (see `rollout cohort save`)")
      .option("--bake <s>", "watch a finished batch's machines this long before the next (default 0)", count)
      .option("--max-failures <n>", "failures tolerated after the canaries before halting (default 0)", count)
      .option(
        "--health-timeout <s>",
        "seconds a machine may take to pass its checks (default 300)",
        positiveInt,
      )
      .option("--wake", "start idle machines to run the health gate on them (the proxy idles them again)")
      .option("--include-overridden", "roll out users whose image an override pins too (default: skipped)")
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
          stages: options.stages,
          users: options.users,
          cohort: options.cohort,
          bake_s: options.bake,
          wake: options.wake,
          include_overridden: options.includeOverridden,
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
        ...[waitingLine(status)].filter((line) => line !== ""),
        details({
          image: (status.rollout.target as Row)?.image,
          tier: status.rollout.tier ?? "all",
          canaries: status.rollout.canary_count,
          batch_size: status.rollout.batch_size,
          stages: (status.rollout.stages as number[] | null)?.join(",") ?? "100",
          bake_s: status.rollout.bake_s,
          health_timeout_s: status.rollout.health_timeout_s,
          updated: status.rollout.updated,
          rolled_back: status.rollout.rolled_back,
          created_by: status.rollout.created_by,
        }, ctx.layout()),
        ...status.lines.flatMap((line, index) => {
          const batch = status.batches[index]?.batch;
          const targets = status.targets.filter((t) => t.batch === batch);
          return [line, ...targets.map((t) => `  ${t.user_id} ${t.fly_app_name ?? "-"}: ${t.label}`)];
        }),
        table(status.events.slice(-10), [
          { header: "at", value: (e) => e.created_at },
          { header: "event", value: (e) => e.event_type },
          { header: "actor", value: (e) => e.actor },
          { header: "reason", value: (e) => e.reason },
        ], { layout: ctx.layout(), empty: "no events" }),
      ].join("\n"));
  });

  withJson(
    rollout.command("list").description("recent rollouts, newest first")
      .option("--limit <n>", "how many (default 20)", positiveInt),
  ).action(async (options) => {
    const { rollouts } = await parseResponse(
      admin(ctx).rollouts.$get({ query: { limit: options.limit ?? 20 } }),
    );
    print(ctx, options, rollouts, (rows) =>
      table(rows, [
        { header: "id", value: (r) => r.id },
        { header: "state", value: (r) => `${r.state}${r.direction === "rollback" ? " (rollback)" : ""}` },
        { header: "image", value: (r) => (r.target as Row)?.image ?? JSON.stringify(r.target) },
        { header: "tier", value: (r) => r.tier ?? "all" },
        { header: "healthy", value: (r) => `${r.healthy}/${r.total}` },
        { header: "failed", value: (r) => r.failed },
        { header: "created", value: (r) => r.created_at },
        { header: "by", value: (r) => r.created_by },
      ], { layout: ctx.layout(), empty: "no rollouts" }));
  });

  const cohort = rollout.command("cohort").description("saved cohorts of users who go first");
  withJson(
    cohort.command("save").description("save (or replace) a cohort")
      .argument("<name>", "cohort name (lowercase letters, digits, - or _)")
      .requiredOption("--users <ids>", "comma-separated user ids", userIds),
  ).action(async (name, options) => {
    const result = await parseResponse(
      admin(ctx)["rollout-cohorts"][":name"].$put({ param: { name }, json: { users: options.users } }),
    );
    print(ctx, options, result, (r) => `${r.cohort.name}: ${r.cohort.user_ids.length} user(s)`);
  });
  withJson(cohort.command("list").description("the saved cohorts")).action(async (options) => {
    const result = await parseResponse(admin(ctx)["rollout-cohorts"].$get());
    print(ctx, options, result.cohorts, (rows) =>
      table(rows, [
        { header: "name", value: (r) => r.name },
        { header: "users", value: (r) => r.user_ids.length },
        { header: "by", value: (r) => r.created_by },
        { header: "updated", value: (r) => r.updated_at },
      ], { layout: ctx.layout(), empty: "no cohorts" }));
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
  withJson(
    program.command("versions").description(
      "machines per image digest and tier; the active rollout's target is marked",
    ),
  ).action(async (options) => {
    const result = await parseResponse(admin(ctx).versions.$get());
    const target = result.rollout;
    const marked = (digest: string | null, image: string | null) =>
      target && ((target.digest && digest === target.digest) || (!target.digest && image === target.image))
        ? `← rollout ${target.id.slice(0, 8)} (${target.state})`
        : "";
    print(ctx, options, result, (r) =>
      table(r.versions, [
        { header: "tier", value: (v) => v.tier },
        { header: "tag", value: (v) => versionTag(v) },
        { header: "digest", value: (v) => v.digest ? v.digest.slice(0, 19) : "-" },
        { header: "machines", value: (v) => v.machines },
        { header: "started", value: (v) => v.running },
        { header: "", value: (v) => marked(v.digest, v.image) },
      ], { layout: ctx.layout(), empty: "no machines" }) +
      (target ? `\nactive rollout ${target.id} ${target.state}: ${target.image ?? "plan change"}` : ""));
  });

  // Subcommands report usage errors and help like the top-level commands.
  for (const command of [...rollout.commands, ...cohort.commands]) {
    command.configureOutput(program.configureOutput()).exitOverride().showHelpAfterError(
      "(add --help for usage)",
    );
  }
}
