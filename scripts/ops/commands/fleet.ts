/**
 * Fleet commands: `orphans [--delete NAME]`, `usage [--month YYYY-MM] [--csv]`, `prices [--set ITEM=USD]`,
 * `sweep`, `sweep-runs`.
 *
 * @module
 */
import { type Command, InvalidArgumentError } from "commander";
import { csv, details, flatten, table } from "../output.ts";
import { parseResponse } from "hono/client";
import { admin, type CommandContext, positiveInt, print, withJson } from "../context.ts";

/** A row of the API. */
type Row = Record<string, unknown>;

/** The per-user usage columns (also the CSV's). */
const USAGE_KEYS = [
  "user_id",
  "email",
  "tier",
  "fly_app_name",
  "status",
  "running_hours",
  "estimated_monthly_usd",
  "observed_usd",
  "snapshot_gb",
  "snapshot_monthly_usd",
  "kept_volume_gb",
  "kept_volume_monthly_usd",
];

/** The per-plan usage columns. */
const PLAN_USAGE_KEYS = [
  "tier",
  "idle_action",
  "users",
  "running_hours",
  "running_share",
  "estimated_monthly_usd",
  "observed_usd",
  "always_on_usd",
  "cost_ratio",
  "snapshot_monthly_usd",
  "kept_volume_monthly_usd",
];

/** `ITEM=USD` of `prices --set`. */
function priceAssignment(value: string): { item: string; usd: number } {
  const match = /^([a-z_]+)=(\d+(\.\d+)?)$/.exec(value);
  if (!match) throw new InvalidArgumentError(`${value} is not ITEM=USD (e.g. cpu_shared=2.02)`);
  return { item: match[1], usd: Number(match[2]) };
}

/** `YYYY-MM`. */
function month(value: string): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(value)) {
    throw new InvalidArgumentError(`${value} is not a month YYYY-MM`);
  }
  return value;
}

/** The share of its time budget a sweep run used, e.g. `73%`. */
function budgetShare(run: Row): string {
  const used = Number(run.duration_ms) / Number(run.budget_ms);
  return Number.isFinite(used) ? `${Math.round(used * 100)}%` : "";
}

/** A sweep report in one line: its non-zero counts as `key=value` (dotted for nested ones). */
function reportSummary(report: unknown): string {
  return Object.entries(flatten((report ?? {}) as Row))
    .filter(([, value]) => typeof value === "number" && value !== 0)
    .map(([key, value]) => `${key}=${value}`).join(" ");
}

/** Registers the fleet commands. */
export function registerFleetCommands(program: Command, ctx: CommandContext): void {
  withJson(
    program.command("orphans").description("apps of ours no row expects (last sweep), or delete one")
      .option("--delete <name>", "delete this orphan app (refused for a paid user or a reconcile in flight)"),
  ).action(async (options) => {
    if (options.delete) {
      const result = await parseResponse(
        admin(ctx).orphans[":name"].$delete({ param: { name: options.delete } }),
      );
      print(ctx, options, result, () => `deleted ${options.delete}`);
      return;
    }
    const result = await parseResponse(admin(ctx).orphans.$get());
    print(
      ctx,
      options,
      result,
      (r) =>
        (r.sweep_run ? `sweep run ${r.sweep_run.id} at ${r.sweep_run.started_at}\n` : `${r.note}\n`) +
        table(r.orphans, [
          { header: "app", value: (o) => o.name },
          { header: "user", value: (o) => o.user_id },
          { header: "tier", value: (o) => o.tier },
          { header: "paid user", value: (o) => o.paid_user },
          { header: "in flight", value: (o) => o.in_flight },
          { header: "deleted by sweep", value: (o) => o.deleted_by_sweep },
        ], { layout: ctx.layout(), empty: "no orphans" }),
    );
  });

  withJson(
    program.command("usage").description("estimated vs observed cost per user and plan for a month")
      .option("--month <YYYY-MM>", "the month (default: this month, UTC)", month)
      .option("--csv", "per-user rows as CSV"),
  ).action(async (options) => {
    const result = await parseResponse(admin(ctx).usage.$get({ query: { month: options.month } }));
    if (options.csv && !options.json) {
      ctx.output.out(csv(result.users, USAGE_KEYS));
      return;
    }
    print(ctx, options, result, (r) =>
      [
        `usage ${r.month}`,
        table(
          r.users,
          USAGE_KEYS.filter((k) => k !== "email").map((k) => ({ header: k, value: (u: Row) => u[k] })),
          { layout: ctx.layout(), empty: "no usage" },
        ),
        table(
          r.plans,
          PLAN_USAGE_KEYS.map((k) => ({ header: k, value: (p: Row) => p[k] })),
          { layout: ctx.layout() },
        ),
        details(r.totals, ctx.layout()),
      ].join("\n"));
  });

  withJson(
    program.command("plan-idle").description("set what Fly's proxy does with a plan's idle machines")
      .argument("<tier>", "the plan's tier, e.g. pro")
      .argument("<action>", "off, stop or suspend")
      .option("--reason <text>", "why (logged with the actor)"),
  ).action(async (tier, action, options) => {
    const result = await parseResponse(
      admin(ctx).plans[":tier"]["idle-action"].$put({
        param: { tier },
        json: { idle_action: action, ...(options.reason ? { reason: options.reason } : {}) },
      }),
    );
    print(
      ctx,
      options,
      result,
      (r) =>
        `${r.tier}: idle_action ${r.previous} -> ${r.idle_action} (${r.due_users} machines due for a reconcile)`,
    );
  });

  withJson(
    program.command("prices").description("the price table the estimates use; --set changes one price")
      .option(
        "--set <item=usd>",
        "set one price, e.g. cpu_shared=2.02 (plans and rows re-estimated)",
        priceAssignment,
      ),
  ).action(async (options) => {
    const result = options.set
      ? await parseResponse(
        admin(ctx).prices[":item"].$put({
          param: { item: options.set.item },
          json: { monthly_usd: options.set.usd },
        }),
      )
      : await parseResponse(admin(ctx).prices.$get());
    print(
      ctx,
      options,
      result as { prices: Row[] },
      (r) =>
        table(
          r.prices,
          ["item", "monthly_usd", "included_memory_mb_per_cpu", "description", "source"].map((k) => ({
            header: k,
            value: (p: Row) => p[k],
          })),
          { layout: ctx.layout() },
        ),
    );
  });

  withJson(
    program.command("sweep").description("run one health sweep now (as the pg_cron job does)")
      .option("--limit <n>", "at most N rows reconciled and N apps observed", positiveInt)
      .option("--budget-ms <ms>", "time budget", positiveInt)
      .option("--async", "answer at once (202) instead of waiting for the report"),
  ).action(async (options) => {
    const report = await ctx.api().call({
      fn: "check-fly-apps-health",
      method: "POST",
      query: options.async ? undefined : { wait: "true" },
      body: { limit: options.limit, budget_ms: options.budgetMs },
    });
    print(ctx, options, report, (r) => details(flatten(r as Record<string, unknown>), ctx.layout()));
  });

  withJson(
    program.command("sweep-runs").description("recent health sweeps with their reports")
      .option("--limit <n>", "runs", positiveInt, 10),
  ).action(async (options) => {
    const result = await parseResponse(admin(ctx)["sweep-runs"].$get({ query: { limit: options.limit } }));
    print(ctx, options, result, (r) =>
      table(r.runs, [
        { header: "run", value: (s) => s.id },
        { header: "started", value: (s) => s.started_at },
        { header: "ms", value: (s) => s.duration_ms },
        { header: "budget", value: (s) => budgetShare(s) },
        { header: "stopped early", value: (s) => s.stopped_early },
        { header: "error", value: (s) => s.error },
        { header: "report", value: (s) => reportSummary(s.report) },
      ], { layout: ctx.layout(), empty: "no sweep runs recorded" }));
  });
}
