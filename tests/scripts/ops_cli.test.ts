/**
 * The ops CLI in-process, with a recording stand-in for the functions: argument handling (what each command
 * asks the API), output (tables, JSON, CSV), `--help` on every command, and the exit codes with their
 * one-line messages (usage 2, operation failed 1, unreachable or refused 3). The real client is exercised
 * against a closed port and a server answering 401.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { runCli } from "../../scripts/ops/cli.ts";
import type { FunctionCall, FunctionsCaller } from "../../scripts/ops/client.ts";
import { OperationError, UsageError } from "../../scripts/ops/errors.ts";
import { migrationDone, type MigrationProgress, nextBatch } from "../../scripts/ops/commands/migrate.ts";
import { Writable } from "node:stream";

const USER = "8f14e45f-ceea-467f-a9f3-4bd9c9a1a7e1";

/** A stand-in for the functions that records calls and answers from `answer`. */
function fakeApi(answer: (call: FunctionCall) => unknown): FunctionsCaller & { calls: FunctionCall[] } {
  const calls: FunctionCall[] = [];
  return {
    calls,
    call(request) {
      calls.push(request);
      try {
        return Promise.resolve(answer(request));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}

/** Runs the CLI; returns the exit code and what it printed. */
async function run(args: string[], options: { api?: FunctionsCaller; env?: Record<string, string> } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const progress: string[] = [];
  const code = await runCli(args, {
    env: options.env ?? {},
    caller: options.api,
    output: { out: (text) => out.push(text), err: (text) => err.push(text) },
    sleep: () => Promise.resolve(),
    progressStream: new Writable({
      write(chunk, _encoding, done) {
        progress.push(String(chunk));
        done();
      },
    }),
  });
  return { code, out: out.join("\n"), err: err.join("\n"), progress: progress.join("") };
}

const APP = {
  id: "0d6f3f5e-2a55-4b8f-9e0c-7e6a1f1c2b3d",
  user_id: USER,
  email: "ann@example.com",
  tier: "pro",
  fly_app_name: "vyx-user-abc",
  status: "active",
  health_status: "healthy",
  region: "sin",
  in_sync: true,
  held_at: null,
  monthly_cost_estimate_usd: 3.88,
};

Deno.test("every command has --help with --json; help exits 0 without any environment", async () => {
  const commands = [
    "list",
    "show",
    "events",
    "status",
    "summary",
    "provision",
    "deprovision",
    "retry",
    "hold",
    "release",
    "restart",
    "snapshots",
    "snapshot",
    "restore",
    "orphans",
    "usage",
    "prices",
    "sweep",
    "sweep-runs",
    "migrate",
    "doctor",
  ];
  for (const command of commands) {
    const { code, out } = await run([command, "--help"]);
    assertEquals(code, 0, command);
    assert(out.includes(`Usage: ops ${command}`) && out.includes("--json"), `${command}: ${out}`);
  }
  const top = await run(["--help"]);
  assertEquals(top.code, 0);
  for (const command of commands) assert(top.out.includes(command), command);
});

Deno.test("usage errors exit 2 with one `ops: …` line, before any call", async () => {
  const api = fakeApi(() => ({}));
  const cases: [string[], string][] = [
    [[], "Usage: ops"],
    [["bogus"], "unknown command 'bogus'"],
    [["show"], "missing required argument 'user'"],
    [["show", "not-a-uuid"], "not a user id"],
    [["list", "--limit", "0"], "not a positive integer"],
    [["list", "--frobnicate"], "unknown option"],
    [["retry"], "exactly one of USER, --status or --all-failed"],
    [["retry", USER, "--all-failed"], "exactly one of"],
    [["usage", "--month", "2026-13"], "not a month"],
    [["prices", "--set", "cpu_shared"], "not ITEM=USD"],
    [["events", USER, "--type", "hold_set"], "--type filters fleet-wide events"],
  ];
  for (const [args, message] of cases) {
    const { code, err } = await run(args, { api });
    assertEquals(code, 2, `${args.join(" ")}: ${err}`);
    assert(err.includes(message), `${args.join(" ")}: ${err}`);
    assert(!err.includes("    at "), `no stack trace: ${err}`);
    if (args.length > 0) {
      assert(
        /^ops: [^\n]+$/.test(err),
        `one line in the ops: format, commander's too: ${JSON.stringify(err)}`,
      );
    }
  }
  assertEquals(api.calls.length, 0, "nothing was called");
});

Deno.test("a missing variable is named (exit 2)", async () => {
  const missingUrl = await run(["summary"], { env: { PROVISIONER_SECRET: "s".repeat(20) } });
  assertEquals(missingUrl.code, 2);
  assert(missingUrl.err.includes("FUNCTIONS_URL is not set"), missingUrl.err);
  const missingSecret = await run(["summary"], { env: { FUNCTIONS_URL: "http://127.0.0.1:1/functions/v1" } });
  assertEquals(missingSecret.code, 2);
  assert(missingSecret.err.includes("PROVISIONER_SECRET is not set"), missingSecret.err);
  const badUrl = await run(["summary"], {
    env: { FUNCTIONS_URL: "http://127.0.0.1:1/", PROVISIONER_SECRET: "s".repeat(20) },
  });
  assertEquals(badUrl.code, 2);
  assert(badUrl.err.includes("must be an http(s) URL ending in /functions/v1"), badUrl.err);
});

Deno.test("an unreachable URL is named (exit 3), a refused secret too (exit 3); no stack trace", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const closed = await run(["list"], {
    env: { FUNCTIONS_URL: `http://127.0.0.1:${port}/functions/v1`, PROVISIONER_SECRET: "s".repeat(20) },
  });
  assertEquals(closed.code, 3, closed.err);
  assert(
    closed.err.startsWith(`ops: cannot reach http://127.0.0.1:${port}/functions/v1/fly-apps-admin/apps`),
    closed.err,
  );
  assertEquals(closed.err.split("\n").length, 1, "one line");

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      Response.json({ error: { code: "unauthorized", message: "missing or invalid provisioner secret" } }, {
        status: 401,
      }),
  );
  try {
    const refused = await run(["summary"], {
      env: {
        FUNCTIONS_URL: `http://127.0.0.1:${server.addr.port}/functions/v1`,
        PROVISIONER_SECRET: "s".repeat(20),
      },
    });
    assertEquals(refused.code, 3, refused.err);
    assert(refused.err.includes("refused the provisioner secret"), refused.err);
  } finally {
    await server.shutdown();
  }
});

Deno.test("list: filters become the query; a table by default, JSON with --json; --all follows cursors", async () => {
  const api = fakeApi((call) =>
    call.query?.cursor
      ? { apps: [{ ...APP, user_id: "second-page" }], next_cursor: null }
      : { apps: [APP], next_cursor: "c1" }
  );
  const table = await run([
    "list",
    "--status",
    "error",
    "--tier",
    "pro",
    "--out-of-sync",
    "--held",
    "--search",
    "ann",
    "--sort",
    "cost",
    "--asc",
    "--limit",
    "5",
    "--wide",
  ], { api });
  assertEquals(table.code, 0, table.err);
  assertEquals(api.calls[0].fn, "fly-apps-admin");
  assertEquals(api.calls[0].path, "/apps");
  const { cursor: _, ...query } = api.calls[0].query ?? {};
  assertEquals(query, {
    status: "error",
    tier: "pro",
    in_sync: "false",
    held: "true",
    q: "ann",
    sort: "cost",
    order: "asc",
    limit: "5",
  });
  assert(table.out.includes(USER) && table.out.includes("ann@example.com") && table.out.includes("3.88"));
  assert(table.err.includes("more apps follow"), "says there is more");

  const all = await run(["list", "--all", "--json"], { api });
  const parsed = JSON.parse(all.out);
  assertEquals(parsed.apps.map((a: { user_id: string }) => a.user_id), [USER, "second-page"]);
});

Deno.test("actions: the right route, body and readable line", async () => {
  const api = fakeApi((call) => {
    if (call.path === "/retry") return { retried: 2, user_ids: [], note: "due now" };
    if (call.path?.endsWith("/hold")) {
      return { held: true, held_at: "2026-11-30T01:02:03Z", reconcile: { outcome: "converged" } };
    }
    if (call.path?.endsWith("/retry")) return { reconcile: { outcome: "failed", error: "bad token" } };
    return {};
  });
  const bulk = await run(["retry", "--all-failed", "--reason", "token fixed"], { api });
  assertEquals(bulk.code, 0, bulk.err);
  assertEquals(api.calls.at(-1), {
    fn: "fly-apps-admin",
    method: "POST",
    path: "/retry",
    body: { statuses: ["error", "failed"], reason: "token fixed" },
  });
  assert(bulk.out.includes("2 row(s) retried (error, failed): due now"), bulk.out);

  const status = await run(["retry", "--status", "error,pending"], { api });
  assertEquals(status.code, 0);
  assertEquals((api.calls.at(-1)?.body as { statuses: string[] }).statuses, ["error", "pending"]);

  const one = await run(["retry", USER], { api });
  assertEquals(api.calls.at(-1)?.path, `/apps/${USER}/retry`);
  assert(one.out.includes("failed: bad token"), one.out);

  const hold = await run(["hold", USER, "--reason", "abuse"], { api });
  assertEquals(api.calls.at(-1)?.body, { reason: "abuse" });
  assert(hold.out.includes("converged"), hold.out);

  await run(["provision", USER, "--async"], { api });
  assertEquals(api.calls.at(-1), {
    fn: "provision-user-fly-app",
    method: "POST",
    query: undefined,
    body: { user_id: USER, reason: "ops" },
  });
  await run(["deprovision", USER], { api });
  assertEquals(api.calls.at(-1)?.fn, "deprovision-user-fly-app");
  assertEquals(api.calls.at(-1)?.query, { wait: "true" }, "waits for the outcome by default");
  await run(["status", USER], { api });
  assertEquals(api.calls.at(-1), { fn: "provision-user-fly-app", query: { user_id: USER } });
  await run(["sweep", "--limit", "3"], { api });
  assertEquals(api.calls.at(-1)?.query, { wait: "true" });
  assertEquals(api.calls.at(-1)?.body, { limit: 3, budget_ms: undefined });
});

Deno.test("a failed operation exits 1 with the API's message; --json still prints its answer", async () => {
  const api = fakeApi(() => {
    throw new OperationError("HTTP 409: the user's machine is held; release it first", 409, {
      error: { code: "conflict", message: "held" },
    });
  });
  const plain = await run(["restart", USER], { api });
  assertEquals(plain.code, 1);
  assertEquals(plain.err, "ops: HTTP 409: the user's machine is held; release it first");
  const machine = await run(["restart", USER, "--json"], { api });
  assertEquals(JSON.parse(machine.out).error.code, "conflict");
  const usage = await run(["summary"], {
    api: fakeApi(() => {
      throw new UsageError("invalid request: month must be a month as YYYY-MM");
    }),
  });
  assertEquals(usage.code, 2);
});

Deno.test("usage --csv prints a header and one line per user, quoting where needed", async () => {
  const api = fakeApi(() => ({
    month: "2026-11",
    users: [{
      ...APP,
      email: "a,b@example.com",
      running_hours: 1.5,
      estimated_monthly_usd: 3.88,
      observed_usd: 0.01,
      snapshot_gb: 0.5,
      snapshot_monthly_usd: 0.04,
      kept_volume_gb: 1,
      kept_volume_monthly_usd: 0.15,
    }],
    plans: [],
    totals: {},
  }));
  const { code, out } = await run(["usage", "--month", "2026-11", "--csv"], { api });
  assertEquals(code, 0);
  assertEquals(api.calls[0].query, { month: "2026-11" });
  assertEquals(out.split("\n"), [
    "user_id,email,tier,fly_app_name,status,running_hours,estimated_monthly_usd,observed_usd,snapshot_gb,snapshot_monthly_usd,kept_volume_gb,kept_volume_monthly_usd",
    `${USER},"a,b@example.com",pro,vyx-user-abc,active,1.5,3.88,0.01,0.5,0.04,1,0.15`,
  ]);
});

Deno.test("migrate: paced batches, kicks each enqueued user, progress and a closing line", async () => {
  let state: MigrationProgress = {
    paid_users: 5,
    without_row: 5,
    active: 0,
    in_progress: 0,
    failed: 0,
    errors: [],
  };
  const api = fakeApi((call) => {
    if (call.fn === "provision-user-fly-app") return { accepted: true };
    if (call.method === "POST") {
      const batch = (call.body as { batch: number }).batch;
      state = { ...state, without_row: state.without_row - batch, in_progress: state.in_progress + batch };
      return {
        user_ids: Array.from({ length: batch }, (_, i) => `u${state.without_row + i}`),
        progress: state,
      };
    }
    // Every progress check, whatever is in progress finishes.
    state = { ...state, active: state.active + state.in_progress, in_progress: 0 };
    return state;
  });
  const { code, out, progress } = await run(["migrate", "--batch", "2"], { api });
  assertEquals(code, 0, out);
  const batches = api.calls.filter((c) => c.method === "POST" && c.fn === "fly-apps-admin")
    .map((c) => (c.body as { batch: number }).batch);
  assertEquals(batches, [2, 2, 1]);
  assertEquals(api.calls.filter((c) => c.fn === "provision-user-fly-app").length, 5);
  assert(out.includes("migrate: 5/5 paid users active") && out.includes("0 failed"), out);
  assert(progress.includes("migrate ["), `a progress bar: ${progress}`);
});

Deno.test("migrate helpers: the window and when it is done", () => {
  const progress = { paid_users: 10, without_row: 6, active: 1, in_progress: 3, failed: 0, errors: [] };
  assertEquals(nextBatch(progress, 5), 2);
  assertEquals(nextBatch(progress, 3), 0);
  assertEquals(nextBatch({ ...progress, without_row: 1 }, 10), 1);
  assertEquals(migrationDone(progress), false);
  assertEquals(migrationDone({ ...progress, without_row: 0, in_progress: 0 }), true);
});

Deno.test("doctor: exit 0 only when every check passes; failures named", async () => {
  const answers = (failing: boolean) =>
    fakeApi((call) => {
      if (call.fn === "provision-user-fly-app" || call.fn === "deprovision-user-fly-app") {
        throw new OperationError("HTTP 404: no subscription", 404, {});
      }
      if (call.path === "/doctor") {
        return {
          checks: [
            { name: "vault.project_url", ok: true, detail: "present" },
            { name: "vault.fly_kick_secret", ok: !failing, detail: failing ? "missing" : "present" },
            { name: "fly.image", ok: null, detail: "skipped" },
          ],
        };
      }
      return {};
    });
  const good = await run(["doctor"], { api: answers(false) });
  assertEquals(good.code, 0, good.err);
  assert(good.out.includes("all checks passed"), good.out);
  const bad = await run(["doctor"], { api: answers(true) });
  assertEquals(bad.code, 1);
  assert(bad.out.includes("FAIL") && bad.err.includes("vault.fly_kick_secret"), bad.err);
});

Deno.test("the real client sends the secret, the actor and the body through functions.invoke", async () => {
  const seen: {
    path: string;
    method: string;
    auth: string | null;
    actor: string | null;
    type: string | null;
    body: string;
  }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const url = new URL(request.url);
    seen.push({
      path: url.pathname + url.search,
      method: request.method,
      auth: request.headers.get("authorization"),
      actor: request.headers.get("x-actor"),
      type: request.headers.get("content-type"),
      body: await request.text(),
    });
    return Response.json({
      held: true,
      held_at: "2026-11-30T00:00:00Z",
      reconcile: { outcome: "converged" },
    });
  });
  try {
    const secret = "s".repeat(24);
    const env = {
      FUNCTIONS_URL: `http://127.0.0.1:${server.addr.port}/functions/v1`,
      PROVISIONER_SECRET: secret,
    };
    const held = await run(["--actor", "ann", "hold", USER, "--reason", "abuse"], { env });
    assertEquals(held.code, 0, held.err);
    await run(["events", "--type", "hold_set,hold_released", "--limit", "5"], {
      env: { ...env, OPS_ACTOR: "bo" },
    });
    assertEquals(seen.map((s) => [s.method, s.path, s.auth, s.actor]), [
      ["POST", `/functions/v1/fly-apps-admin/apps/${USER}/hold`, `Bearer ${secret}`, "ann"],
      [
        "GET",
        "/functions/v1/fly-apps-admin/events?limit=5&type=hold_set%2Chold_released",
        `Bearer ${secret}`,
        "bo",
      ],
    ]);
    assertEquals(JSON.parse(seen[0].body), { reason: "abuse" });
    // The admin API takes JSON only: supabase-js declares a JSON body, and a read has no body and no type.
    assertEquals(seen.map((s) => s.type), ["application/json", null]);
  } finally {
    await server.shutdown();
  }
});
