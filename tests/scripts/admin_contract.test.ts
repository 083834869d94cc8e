/**
 * The admin API's contract is its route types: the ops CLI's typed client (and the console's `calls`, checked
 * with this file) fail to compile when they call a route that does not exist or pass a wrong body. The
 * `@ts-expect-error` lines are the proof: `deno test` type-checks this file, and an expected error that no
 * longer occurs is itself an error.
 */
import { assertEquals } from "../_support/assert.ts";
import { adminClient, type FunctionCall } from "../../scripts/ops/client.ts";
import type * as _consoleApi from "../../console/src/api.ts";

const USER = "8f14e45f-ceea-467f-a9f3-4bd9c9a1a7e1";

Deno.test("the typed client sends each route's method, path, query and body through the caller", async () => {
  const calls: FunctionCall[] = [];
  const admin = adminClient({
    call: (request) => {
      calls.push(request);
      return Promise.resolve({ ok: true });
    },
  });
  await admin.apps[":user_id"].hold.$post({ param: { user_id: USER }, json: { reason: "abuse" } });
  await admin.events.$get({ query: { type: "app_created", limit: 5 } });
  assertEquals(calls, [
    { fn: "fly-apps-admin", method: "POST", path: `/apps/${USER}/hold`, body: { reason: "abuse" } },
    { fn: "fly-apps-admin", method: "GET", path: "/events", query: { type: "app_created", limit: "5" } },
  ]);
});

/** Calls that must not compile (never run: the function is only type-checked). */
export function wrongCalls(admin: ReturnType<typeof adminClient>) {
  // @ts-expect-error: no such route
  admin.app.$get();
  // @ts-expect-error: no such method on the route
  admin.summary.$post();
  // @ts-expect-error: the bulk retry's statuses are an enumeration
  admin.retry.$post({ json: { statuses: ["broken"] } });
  // @ts-expect-error: a price is a number
  admin.prices[":item"].$put({ param: { item: "memory_gb" }, json: { monthly_usd: "3" } });
  // @ts-expect-error: the rollout transitions take a body (`{}` at least)
  admin.rollouts[":id"][":action"].$post({ param: { id: USER, action: "pause" } });
  // @ts-expect-error: the list's sort keys are an enumeration
  admin.apps.$get({ query: { sort: "tier" } });
}
