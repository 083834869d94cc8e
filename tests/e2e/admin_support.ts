/**
 * Helpers of the `fly-apps-admin` end-to-end tests: calls to the admin API through the gateway, a snapshot of
 * everything a call could change, and fixtures (sweep runs as the sweep writes them, foreign apps on the
 * emulator).
 */
import type { FunctionAnswer, Stack } from "./_support.ts";

/** Options of one admin call. */
export interface AdminCall {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  body?: unknown;
  rawBody?: string;
  query?: Record<string, string>;
  /** Replaces the auth headers when given. */
  headers?: Record<string, string>;
  /** `X-Actor`. */
  actor?: string;
}

/** Calls `fly-apps-admin` at `path` (e.g. `/apps`). */
export async function admin(stack: Stack, path: string, options: AdminCall = {}): Promise<FunctionAnswer> {
  const url = new URL(`${stack.services.gatewayUrl}/functions/v1/fly-apps-admin${path}`);
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  const method = options.method ?? "GET";
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...(options.headers ?? stack.auth),
    ...(options.actor ? { "x-actor": options.actor } : {}),
  };
  const response = await fetch(url, {
    method,
    headers,
    body: method === "GET" ? undefined : options.rawBody ?? JSON.stringify(options.body ?? {}),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  // deno-lint-ignore no-explicit-any
  return { status: response.status, body: body as any };
}

/** Everything a call could change: rows, events, prices, plans, rollouts, and what Fly was asked. */
export async function snapshot(stack: Stack): Promise<string> {
  const rows = await stack.sql`select to_jsonb(a) as row from public.user_fly_apps a order by a.id`;
  const [events] = await stack.sql`
    select count(*)::int as count, max(seq)::int as last from public.user_fly_app_events`;
  const prices = await stack.sql`select to_jsonb(p) as row from public.fly_prices p order by item`;
  const plans = await stack.sql`select to_jsonb(p) as row from public.fly_plans p order by tier`;
  const rollouts = await stack.sql`select to_jsonb(r) as row from public.fly_rollouts r order by id`;
  const fly = stack.emulator.requestCounts();
  // Reads (GET) are not changes.
  const writes = Object.fromEntries(
    Object.entries(fly).filter(([operation]) => !/(_show|_list|_get|_wait)/i.test(operation)),
  );
  return JSON.stringify({
    rows,
    events,
    prices,
    plans,
    rollouts,
    writes,
    apps: stack.emulator.state().apps.length,
  });
}

/** Records a sweep run the way the health sweep does (one row per run, its report with the orphan scan). */
export async function recordSweepRun(stack: Stack, report: Record<string, unknown>): Promise<number> {
  const [{ id }] = await stack.sql<{ id: number }[]>`
    insert into public.fly_sweep_runs (started_at, finished_at, duration_ms, budget_ms, report)
    values (now() - interval '2 seconds', now(), 2000, 60000, ${stack.sql.json(report as never)})
    returning id::int`;
  return id;
}

/** Creates an app (and optionally a machine with metadata) on the emulator directly, as a leftover would be. */
export async function createFlyApp(
  stack: Stack,
  name: string,
  machineMetadata?: Record<string, string>,
): Promise<void> {
  const base = stack.services.flyApiUrl;
  const headers = { Authorization: `Bearer ${stack.emulator.token}`, "content-type": "application/json" };
  const org = stack.services.functionEnv.FLY_ORG_SLUG;
  const created = await fetch(`${base}/v1/apps`, {
    method: "POST",
    headers,
    body: JSON.stringify({ app_name: name, name, org_slug: org }),
  });
  await created.body?.cancel();
  if (!created.ok) throw new Error(`creating app ${name} on the emulator: ${created.status}`);
  if (!machineMetadata) return;
  const machine = await fetch(`${base}/v1/apps/${name}/machines`, {
    method: "POST",
    headers,
    body: JSON.stringify({
      region: "sin",
      config: { image: "registry.fly.io/x:1", metadata: machineMetadata },
    }),
  });
  await machine.body?.cancel();
  if (!machine.ok) throw new Error(`creating a machine in ${name} on the emulator: ${machine.status}`);
}
