/**
 * Read commands: `list`, `show USER`, `events [USER]`, `status USER`, `summary`.
 *
 * @module
 */
import type { Command } from "commander";
import { UsageError } from "../errors.ts";
import { type Column, details, eventSummary, type Layout, table } from "../output.ts";
import { parseResponse } from "hono/client";
import { admin, type CommandContext, positiveInt, print, userId, withJson } from "../context.ts";
import { APP_SORT_KEYS } from "../../../supabase/functions/_shared/db/admin.ts";

/** An app row as the admin API lists it. */
type App = Record<string, unknown>;

/** The columns of `list`. */
const APP_COLUMNS: Column<App>[] = [
  { header: "user", value: (a) => a.user_id, whole: true },
  { header: "email", value: (a) => a.email },
  { header: "tier", value: (a) => a.tier },
  { header: "app", value: (a) => a.fly_app_name },
  { header: "status", value: (a) => a.status },
  { header: "health", value: (a) => a.health_status },
  { header: "region", value: (a) => a.region },
  { header: "sync", value: (a) => a.in_sync },
  { header: "held", value: (a) => a.held_at ? `by ${a.held_by}` : "" },
  { header: "override", value: (a) => overrideText(a.override as Record<string, unknown> | null) },
  { header: "$/mo", value: (a) => a.monthly_cost_estimate_usd },
];

/** An ops override in a few words: its fields (`shared 4 CPU 2048 MB ams image …`), or "". */
function overrideText(override: Record<string, unknown> | null | undefined): string {
  if (!override) return "";
  return ["cpu_kind", "cpus", "memory_mb", "region", "image"].filter((k) => override[k] !== undefined)
    .map((k) => `${k}=${override[k]}`).join(" ");
}

/** An event row. */
type Event = Record<string, unknown>;

/** The columns of `events`. */
const EVENT_COLUMNS: Column<Event>[] = [
  { header: "seq", value: (e) => e.seq, whole: true },
  { header: "at", value: (e) => e.created_at },
  { header: "user", value: (e) => e.user_id, whole: true },
  { header: "event", value: (e) => e.event_type },
  { header: "status", value: (e) => e.status },
  { header: "details", value: eventSummary },
];

/** The columns of the recent events in `status`. */
const STATUS_EVENT_COLUMNS: Column<Event>[] = [
  { header: "at", value: (e) => e.created_at },
  { header: "event", value: (e) => e.event_type },
  { header: "status", value: (e) => e.status },
  { header: "details", value: eventSummary },
];

/** Registers the read commands. */
export function registerAppCommands(program: Command, ctx: CommandContext): void {
  withJson(
    program.command("list").description("list user apps (filters, sort, paging)")
      .option(
        "--status <status>",
        "pending|provisioning|active|held|suspended|failed|error|deprovisioning|deleted",
      )
      .option("--health <health>", "healthy|unhealthy|unknown")
      .option("--tier <tier>", "subscription tier")
      .option("--region <region>", "Fly region code")
      .option("--image <image>", "docker image reference")
      .option("--drift", "only apps with recorded drift")
      .option("--out-of-sync", "only apps not in sync")
      .option("--held", "only held apps")
      .option("--overridden", "only users with an ops override")
      .option("--search <text>", "user id, email or app name contains")
      .option("--sort <key>", Object.keys(APP_SORT_KEYS).join("|"), "updated_at")
      .option("--asc", "ascending order (default descending)")
      .option("--limit <n>", "apps per page", positiveInt, 50)
      .option("--all", "follow every page"),
  ).action(async (options) => {
    const query = {
      status: options.status,
      health: options.health,
      tier: options.tier,
      region: options.region,
      image: options.image,
      drift: options.drift ? "true" as const : undefined,
      in_sync: options.outOfSync ? "false" as const : undefined,
      held: options.held ? "true" as const : undefined,
      overridden: options.overridden ? "true" as const : undefined,
      q: options.search,
      sort: options.sort,
      order: options.asc ? "asc" as const : "desc" as const,
      limit: options.limit,
    };
    const apps: App[] = [];
    let cursor: string | undefined;
    do {
      const page = await parseResponse(admin(ctx).apps.$get({ query: { ...query, cursor } }));
      apps.push(...page.apps);
      cursor = options.all ? page.next_cursor ?? undefined : undefined;
      if (!options.all && page.next_cursor) {
        ctx.output.err(`more apps follow: use --all, or --limit to see more`);
      }
    } while (cursor);
    print(
      ctx,
      options,
      { apps },
      (r) => table(r.apps, APP_COLUMNS, { layout: ctx.layout(), empty: "no apps match" }),
    );
  });

  withJson(
    program.command("show").description("one user's app: row, plan, costs, hold, drift; --live asks Fly")
      .argument("<user>", "user id", userId)
      .option("--live", "include the machines as Fly reports them now"),
  ).action(async (user, options) => {
    const detail = await parseResponse(
      admin(ctx).apps[":user_id"].$get({
        param: { user_id: user },
        query: { live: options.live ? "true" : undefined },
      }),
    );
    print(ctx, options, detail, (d) => renderDetail(d, ctx.layout()));
  });

  withJson(
    program.command("events").description("one user's event history, or the fleet's recent events")
      .argument("[user]", "user id (omit for fleet-wide events)", userId)
      .option("--type <types>", "only these event types (comma-separated; fleet-wide)")
      .option("--limit <n>", "events", positiveInt, 50)
      .option("--before <seq>", "page on: events before this sequence number", positiveInt),
  ).action(async (user, options) => {
    if (user && options.type) throw new UsageError("--type filters fleet-wide events; omit USER to use it");
    const query = { limit: options.limit, before: options.before };
    const result = await parseResponse(
      user
        ? admin(ctx).apps[":user_id"].events.$get({ param: { user_id: user }, query })
        : admin(ctx).events.$get({ query: { ...query, type: options.type } }),
    );
    print(ctx, options, result, ({ events, next_before }) => {
      const more = next_before ? `\nmore: --before ${next_before}` : "";
      return table(events, EVENT_COLUMNS, { layout: ctx.layout(), empty: "no events" }) + more;
    });
  });

  withJson(
    program.command("status").description("a user's status as the provision function reports it")
      .argument("<user>", "user id", userId),
  ).action(async (user, options) => {
    const state = await ctx.api().call({ fn: "provision-user-fly-app", query: { user_id: user } });
    print(ctx, options, state, (s) => {
      const { recent_events: events, ...rest } = s as Record<string, unknown>;
      return [
        details(rest, ctx.layout()),
        "recent events:",
        table((events ?? []) as Event[], STATUS_EVENT_COLUMNS, { layout: ctx.layout(), empty: "none" }),
      ].join("\n");
    });
  });

  withJson(program.command("summary").description("fleet figures: total, active, errors, held, cost"))
    .action(async (options) => {
      const summary = await parseResponse(admin(ctx).summary.$get());
      print(ctx, options, summary, (s) => details(s, ctx.layout()));
    });
}

/** The readable form of `show`, fitted to `layout`. */
function renderDetail(detail: Record<string, unknown>, layout: Layout): string {
  const app = (detail.app ?? {}) as Record<string, unknown>;
  const costs = detail.costs as {
    estimated_monthly_usd: unknown;
    plan_monthly_usd: unknown;
    running_days: unknown[];
  };
  const hold = detail.hold as Record<string, unknown> | null;
  const deprovision = (detail.actions as { deprovision: { reason: string } }).deprovision;
  const blocks = [
    details({
      user: detail.user_id,
      email: app.email,
      tier: detail.tier,
      app: app.fly_app_name,
      status: app.status,
      health: app.health_status,
      "idle since": app.idle_since ?? undefined,
      desired: app.desired_state,
      generation: app.desired_generation === undefined
        ? undefined
        : `${app.observed_generation}/${app.desired_generation}`,
      "in sync": app.in_sync,
      drift: Object.keys((detail.drift ?? {}) as object).length ? detail.drift : undefined,
      region: app.region,
      size: app.cpu_kind ? `${app.cpu_kind} ${app.cpu_count} CPU ${app.memory_mb} MB` : undefined,
      image: app.docker_image,
      machine: app.machine_id,
      "last observed": app.last_observed_at
        ? `${app.last_machine_state} at ${app.last_observed_at}`
        : undefined,
      held: hold
        ? `since ${hold.held_at} by ${hold.held_by}${hold.reason ? ` (${hold.reason})` : ""}`
        : undefined,
      override: detail.override
        ? `${overrideText(detail.override as Record<string, unknown>)} by ${
          (detail.override as Record<string, unknown>).actor
        }${
          (detail.override as Record<string, unknown>).reason
            ? ` (${(detail.override as Record<string, unknown>).reason})`
            : ""
        }`
        : undefined,
      error: app.error_message,
      retries: app.retry_count,
      "next attempt": app.next_attempt_at,
      "$/month (estimate)": costs.estimated_monthly_usd,
      "$/month (plan)": costs.plan_monthly_usd,
      "running days (31 d)": costs.running_days.length,
      deprovision: `not offered: ${deprovision.reason}`,
    }, layout),
  ];
  const live = detail.live as
    | { machines: Record<string, unknown>[] | null; note?: string; error?: string }
    | undefined;
  if (live) {
    blocks.push(
      live.machines
        ? table(live.machines, [
          { header: "machine", value: (m) => m.id },
          { header: "state", value: (m) => m.state },
          { header: "region", value: (m) => m.region },
          { header: "image", value: (m) => m.image },
          {
            header: "checks",
            value: (m) =>
              (m.checks as { name: string; status: string }[]).map((c) => `${c.name}:${c.status}`).join(" "),
          },
        ], { layout, empty: live.note ?? "no machines" })
        : `Fly: ${live.error}`,
    );
  }
  return blocks.join("\n");
}
