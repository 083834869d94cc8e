/**
 * `invokeFunction`: the POST a function sends to another function of the project (the batch hand-on): URL,
 * bearer secret and body; retries only when no handler ran; failures reported without the secret.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { functionUrl, invokeFunction } from "../../supabase/functions/_shared/http/self_invoke.ts";
import { SECRET } from "./_support.ts";

const config = { supabaseUrl: "http://127.0.0.1:54321/", kickSecret: SECRET };

/** A fetch answering `answers` in turn (an Error is thrown as a network failure); records the requests. */
function scriptedFetch(answers: (Response | Error)[]) {
  const requests: Request[] = [];
  const fetchImpl = (input: string | URL | Request, init?: RequestInit) => {
    requests.push(new Request(input, init));
    const next = answers.shift();
    if (next === undefined) throw new Error("no more answers");
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  };
  return { requests, fetch: fetchImpl as typeof fetch };
}

Deno.test("invokeFunction: POSTs the JSON body to <SUPABASE_URL>/functions/v1/<name> with the bearer secret", async () => {
  const { requests, fetch } = scriptedFetch([
    Response.json({ accepted: true, request_id: "r-2" }, { status: 202 }),
  ]);
  const body = { user_ids: ["7b0c4f8e-2d3a-4e5b-9c6d-0a1b2c3d4e5f"], reason: "tier_changed" };
  const result = await invokeFunction(config, { name: "provision-user-fly-app", body, fetch });
  assertEquals(result, { ok: true, status: 202, body: { accepted: true, request_id: "r-2" } });
  assertEquals(requests.length, 1);
  assertEquals(requests[0].url, "http://127.0.0.1:54321/functions/v1/provision-user-fly-app");
  assertEquals(requests[0].method, "POST");
  assertEquals(requests[0].headers.get("authorization"), `Bearer ${SECRET}`);
  assertEquals(await requests[0].json(), body);
  assertEquals(
    functionUrl("https://ref.supabase.co", "check-fly-apps-health"),
    "https://ref.supabase.co/functions/v1/check-fly-apps-health",
  );
});

Deno.test("invokeFunction: retries a network failure and a 546 from a worker that ended, then succeeds", async () => {
  const { requests, fetch } = scriptedFetch([
    new TypeError("error sending request: connection refused"),
    Response.json({ code: "WORKER_LIMIT" }, { status: 546 }),
    Response.json({ accepted: true }, { status: 202 }),
  ]);
  const result = await invokeFunction(config, { name: "provision-user-fly-app", body: {}, fetch });
  assertEquals([result.ok, requests.length], [true, 3]);
});

Deno.test("invokeFunction: a 401 is not retried; a network failure's message never carries the secret", async () => {
  const unauthorized = scriptedFetch([Response.json({ error: { code: "unauthorized" } }, { status: 401 })]);
  const refused = await invokeFunction(config, {
    name: "provision-user-fly-app",
    body: {},
    fetch: unauthorized.fetch,
  });
  assertEquals(refused, { ok: false, status: 401, error: "answered 401" });
  assertEquals(unauthorized.requests.length, 1);

  const failing = scriptedFetch([1, 2, 3].map(() => new TypeError(`bad header Bearer ${SECRET}`)));
  const failed = await invokeFunction(config, {
    name: "provision-user-fly-app",
    body: {},
    fetch: failing.fetch,
  });
  assertEquals(failing.requests.length, 3, "two retries");
  assert(
    !failed.ok && !failed.error.includes(SECRET) && failed.error.includes("[REDACTED]"),
    JSON.stringify(failed),
  );
});
