/**
 * End to end through the gateway: every function refuses callers without the provisioner secret (none, the
 * public anon key, the service role key, a wrong or truncated secret) with 401, and malformed input with a 400
 * naming the field; either way nothing changes in the database or on Fly. A valid call afterwards does change
 * things, so the "nothing changed" comparison is known to be able to fail.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { type FunctionName, LOCAL_KEYS, type Stack, startStack } from "./_support.ts";

const FUNCTIONS: FunctionName[] = [
  "provision-user-fly-app",
  "deprovision-user-fly-app",
  "check-fly-apps-health",
];

/** Everything a call could change: app rows, events, and what Fly was asked. */
async function snapshot(stack: Stack): Promise<string> {
  const rows = await stack.sql`select to_jsonb(a) as row from public.user_fly_apps a order by a.id`;
  const [events] = await stack.sql`
    select count(*)::int as count, max(seq)::int as last from public.user_fly_app_events`;
  return JSON.stringify({
    rows,
    events,
    fly: stack.emulator.requestCounts(),
    apps: stack.emulator.state().apps,
  });
}

Deno.test("auth and validation: 401 and 400 change nothing; a valid call does", async (t) => {
  // No pg_net worker: the user's row stays due, so any call that got through would act on it.
  const stack = await startStack({ netWorker: false });
  try {
    const [user] = await stack.newUsers(1);
    await stack.setTier(user, "pro");
    const before = await snapshot(stack);
    const secret = stack.services.provisionerSecret;

    await t.step("no secret, the anon key, the service role key or a wrong secret: 401", async () => {
      const credentials: [string, Record<string, string>][] = [
        ["no credentials", {}],
        ["the anon key as bearer", { Authorization: `Bearer ${LOCAL_KEYS.anon}` }],
        ["the anon key as apikey", { apikey: LOCAL_KEYS.anon }],
        ["anon apikey and anon bearer", {
          apikey: LOCAL_KEYS.anon,
          Authorization: `Bearer ${LOCAL_KEYS.anon}`,
        }],
        ["the service role key", {
          Authorization: `Bearer ${stack.services.functionEnv.SUPABASE_SERVICE_ROLE_KEY}`,
        }],
        ["a wrong secret", { Authorization: `Bearer ${secret}x` }],
        ["a truncated secret", { Authorization: `Bearer ${secret.slice(0, -1)}` }],
        ["a wrong secret as apikey", { apikey: `x${secret}` }],
        ["the secret under another scheme", { Authorization: `Basic ${secret}` }],
        ["an empty bearer", { Authorization: "Bearer " }],
      ];
      for (const fn of FUNCTIONS) {
        for (const [what, headers] of credentials) {
          for (
            const request of [
              { wait: true, body: { user_id: user, reason: "unauthorized" } },
              { wait: false, body: { user_id: user, reason: "unauthorized" } },
              {
                method: "GET" as const,
                query: (fn === "check-fly-apps-health" ? {} : { user_id: user }) as Record<string, string>,
              },
            ]
          ) {
            const answer = await stack.call(fn, {
              ...request,
              headers: { "content-type": "application/json", ...headers },
            });
            const detail = `${fn} ${JSON.stringify(request)} with ${what}: ${answer.status} ${
              JSON.stringify(answer.body)
            }`;
            assertEquals(answer.status, 401, detail);
            assertEquals(answer.body.error.code, "unauthorized", detail);
            assert(!JSON.stringify(answer.body).includes(secret.slice(0, 12)), detail);
          }
        }
      }
      assertEquals(await snapshot(stack), before, "nothing changed");
    });

    await t.step("malformed bodies and queries: 400 naming the field", async () => {
      const userCases: [string, { body?: unknown; rawBody?: string; query?: Record<string, string> }][] = [
        ["user_id", { body: {} }],
        ["user_id", { body: { user_id: "not-a-uuid" } }],
        ["user_id", { body: { user_id: 42 } }],
        ["user_id", { body: { user_id: `${user}0` } }],
        ["generation", { body: { user_id: user, generation: -1 } }],
        ["generation", { body: { user_id: user, generation: 1.5 } }],
        ["generation", { body: { user_id: user, generation: "1" } }],
        ["reason", { body: { user_id: user, reason: 5 } }],
        ["reason", { body: { user_id: user, reason: "x".repeat(501) } }],
        ["body", { rawBody: `{"user_id": "${user}"` }],
        ["body", { rawBody: "[]" }],
        ["body", { rawBody: `"${user}"` }],
        ["wait", { body: { user_id: user }, query: { wait: "maybe" } }],
      ];
      const healthCases: [string, { body?: unknown; rawBody?: string; query?: Record<string, string> }][] = [
        ["limit", { body: { limit: 0 } }],
        ["limit", { body: { limit: 10_001 } }],
        ["limit", { body: { limit: "5" } }],
        ["budget_ms", { body: { budget_ms: 10 } }],
        ["budget_ms", { body: { budget_ms: 1e9 } }],
        ["body", { rawBody: "nope" }],
        ["body", { rawBody: "null" }],
        ["wait", { body: {}, query: { wait: "1 " } }],
      ];
      const cases: [FunctionName, string, (typeof userCases)[number][1]][] = [
        ...userCases.map(([field, c]) =>
          ["provision-user-fly-app", field, c] as [FunctionName, string, typeof c]
        ),
        ...userCases.map(([field, c]) =>
          ["deprovision-user-fly-app", field, c] as [FunctionName, string, typeof c]
        ),
        ...healthCases.map(([field, c]) =>
          ["check-fly-apps-health", field, c] as [FunctionName, string, typeof c]
        ),
      ];
      for (const [fn, field, c] of cases) {
        for (const wait of [true, false]) {
          const query = { ...(wait ? { wait: "true" } : {}), ...c.query };
          const answer = await stack.call(fn, { body: c.body, rawBody: c.rawBody, query });
          const detail = `${fn} ${JSON.stringify(c)}: ${answer.status} ${JSON.stringify(answer.body)}`;
          assertEquals(answer.status, 400, detail);
          assertEquals([answer.body.error.code, answer.body.error.field], ["invalid_request", field], detail);
          assert(String(answer.body.error.message).startsWith(field), detail);
        }
      }
      // GET of the per-user functions needs a valid user_id.
      for (const query of [{}, { user_id: "nope" }] as Record<string, string>[]) {
        const answer = await stack.call("provision-user-fly-app", { method: "GET", query });
        assertEquals(
          [answer.status, answer.body.error?.field],
          [400, "user_id"],
          JSON.stringify(answer.body),
        );
      }
      assertEquals(await snapshot(stack), before, "nothing changed");
    });

    await t.step("the same call with the secret does act (the comparison above can fail)", async () => {
      for (const headers of [stack.auth, { apikey: secret }]) {
        const status = await stack.call("provision-user-fly-app", {
          method: "GET",
          query: { user_id: user },
          headers,
        });
        assertEquals([status.status, status.body.desired_state, status.body.in_sync], [
          200,
          "present",
          false,
        ]);
      }
      const answer = await stack.call("provision-user-fly-app", {
        wait: true,
        body: { user_id: user, reason: "control" },
      });
      assertEquals([answer.status, answer.body.outcome], [200, "converged"], JSON.stringify(answer.body));
      assert((await snapshot(stack)) !== before, "the valid call changed the snapshot");
      await stack.stopServices();
      const reasons = (await stack.events(user)).filter((e) => e.event_type === "provision_started")
        .map((e) => e.metadata.reason);
      assertEquals(reasons, ["control"], "only the valid call ever reconciled");
    });
  } finally {
    await stack.stop();
  }
});
