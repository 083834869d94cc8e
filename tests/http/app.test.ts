import { assert, assertEquals } from "../_support/assert.ts";
import { errorOf, FLY_TOKEN, OPENAI_KEY, request, SECRET, TEST_ENV, testApp, USER_ID } from "./_support.ts";

const body = JSON.stringify({ user_id: USER_ID });

Deno.test("app: POST reaches the handler at /<name>, /functions/v1/<name> and with a trailing slash", async () => {
  const { app, calls } = testApp();
  for (
    const path of [
      "/provision-user-fly-app",
      "/functions/v1/provision-user-fly-app",
      "/provision-user-fly-app/",
    ]
  ) {
    assertEquals((await app.fetch(request(path, { body }))).status, 200, path);
  }
  assertEquals(calls.post.length, 3);
});

Deno.test("app: another function's path and unknown paths → 404 JSON", async () => {
  const { app, calls } = testApp();
  for (const path of ["/deprovision-user-fly-app", "/", "/provision-user-fly-app/extra"]) {
    const res = await app.fetch(request(path, { body }));
    assertEquals(res.status, 404, path);
    assertEquals(await errorOf(res), { code: "not_found", message: "no such route" });
  }
  assertEquals(calls.post.length, 0);
});

Deno.test("app: a known path with another method → 405 JSON with Allow", async () => {
  const { app } = testApp();
  const res = await app.fetch(request("/provision-user-fly-app", { method: "DELETE" }));
  assertEquals(res.status, 405);
  assertEquals((await errorOf(res)).code, "method_not_allowed");
  const allow = res.headers.get("allow") ?? "";
  assert(allow.includes("GET") && allow.includes("POST"), allow);
});

Deno.test("app: a failing handler → 500 without message, stack or secret; logged redacted", async () => {
  const { app, logs } = testApp("provision-user-fly-app", {
    post: () => {
      throw new Error(`upstream said: bad token ${FLY_TOKEN} for key ${OPENAI_KEY}`);
    },
  });
  const res = await app.fetch(request("/provision-user-fly-app", { body }));
  assertEquals(res.status, 500);
  const text = await res.text();
  assertEquals(JSON.parse(text), {
    error: { code: "internal_error", message: "internal error; see the function logs" },
  });
  const all = logs.join("\n");
  assert(all.includes("upstream said"), all);
  for (const secret of [FLY_TOKEN, OPENAI_KEY, "fm2_test", SECRET]) {
    assert(!text.includes(secret) && !all.includes(secret), secret);
  }
  assert(!all.includes("at "), "no stack frames in logs");
  const requestLine = logs.map((line) => JSON.parse(line)).find((entry) => entry.msg === "request");
  assertEquals([requestLine?.level, requestLine?.status], ["error", 500]);
});

Deno.test("app: request id is taken from x-request-id or generated, returned and logged", async () => {
  const { app, logs } = testApp();
  const given = await app.fetch(
    request("/provision-user-fly-app", { body, headers: { "x-request-id": "req-123" } }),
  );
  assertEquals(given.headers.get("x-request-id"), "req-123");
  const generated = await app.fetch(request("/provision-user-fly-app", { body }));
  const id = generated.headers.get("x-request-id") ?? "";
  assert(/^[0-9a-f-]{36}$/.test(id), id);
  const unauthorized = await app.fetch(
    request("/provision-user-fly-app", { headers: { authorization: "" } }),
  );
  assert(unauthorized.headers.get("x-request-id"));
  const lines = logs.map((line) => JSON.parse(line));
  assertEquals(lines.map((l) => l.request_id), ["req-123", id, unauthorized.headers.get("x-request-id")]);
});

Deno.test("app: one structured log line per request, without credentials", async () => {
  const { app, logs } = testApp();
  await app.fetch(request("/provision-user-fly-app?wait=true", { body, headers: { apikey: SECRET } }));
  assertEquals(logs.length, 1);
  const line = JSON.parse(logs[0]);
  assertEquals(
    {
      msg: line.msg,
      level: line.level,
      fn: line.function,
      method: line.method,
      path: line.path,
      status: line.status,
    },
    {
      msg: "request",
      level: "info",
      fn: "provision-user-fly-app",
      method: "POST",
      path: "/provision-user-fly-app",
      status: 200,
    },
  );
  assert(typeof line.duration_ms === "number" && !Number.isNaN(Date.parse(line.ts)));
  assert(!logs[0].includes(SECRET));
});

Deno.test("app: broken configuration → 500 misconfigured; the log names the variable, never a value", async () => {
  const env = { ...TEST_ENV, PROVISIONER_SECRET: "short", FLY_API_TOKEN: "" };
  const { app, logs, calls } = testApp("provision-user-fly-app", { env });
  const res = await app.fetch(request("/provision-user-fly-app", { body }));
  assertEquals(res.status, 500);
  const text = await res.text();
  assertEquals(JSON.parse(text).error.code, "misconfigured");
  assert(!text.includes("PROVISIONER_SECRET"), "callers are not told the configuration");
  const all = logs.join("\n");
  assert(all.includes("PROVISIONER_SECRET") && all.includes("FLY_API_TOKEN is required"), all);
  assert(!all.includes('"short"') && !all.includes("short\\"), all);
  assertEquals(calls.post.length, 0);
});
