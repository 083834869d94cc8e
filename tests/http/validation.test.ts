import { assert, assertEquals } from "../_support/assert.ts";
import { type FunctionName, isStorableText } from "../../supabase/functions/_shared/http/schemas.ts";
import { errorOf, request, testApp, USER_ID } from "./_support.ts";

/** POSTs `body` to function `name` and expects 400 naming `field`, with no handler reached. */
async function assertRejected(
  body: string | undefined,
  field: string,
  name: FunctionName = "provision-user-fly-app",
) {
  const { app, calls } = testApp(name);
  const res = await app.fetch(request(`/${name}`, { body }));
  assertEquals(res.status, 400, `body ${body}`);
  const error = await errorOf(res);
  assertEquals(error.code, "invalid_request");
  assertEquals(error.field, field, `body ${body}: ${error.message}`);
  assert(error.message.startsWith(field), error.message);
  assertEquals(calls.post.length, 0);
  return error;
}

Deno.test("validation: user_id must be a UUID, and is required", async () => {
  const bad = await assertRejected(JSON.stringify({ user_id: "not-a-uuid" }), "user_id");
  assertEquals(bad.message, "user_id must be a UUID");
  await assertRejected(JSON.stringify({ user_id: 42 }), "user_id");
  const missing = await assertRejected(JSON.stringify({ userId: USER_ID }), "user_id");
  assertEquals(missing.message, "user_id is required");
  await assertRejected("", "user_id", "deprovision-user-fly-app");
});

Deno.test("validation: generation must be a non-negative integer", async () => {
  for (const generation of [-1, 1.5, "3", null]) {
    await assertRejected(JSON.stringify({ user_id: USER_ID, generation }), "generation");
  }
});

Deno.test("validation: reason must be a short string", async () => {
  await assertRejected(JSON.stringify({ user_id: USER_ID, reason: 7 }), "reason");
  await assertRejected(JSON.stringify({ user_id: USER_ID, reason: "x".repeat(501) }), "reason");
});

Deno.test("validation: reason must be text Postgres can store (no NUL, no unpaired surrogate)", async () => {
  // JSON escapes as a client sends them: the parsed string then holds U+0000 or a lone surrogate.
  for (const escaped of ["a\\u0000b", "\\u0000", "x\\ud800", "\\udc00y", "\\udbff\\udbff"]) {
    const error = await assertRejected(`{"user_id":"${USER_ID}","reason":"${escaped}"}`, "reason");
    assert(error.message.includes("Postgres cannot store"), error.message);
  }
  for (const name of ["provision-user-fly-app", "deprovision-user-fly-app"] as const) {
    await assertRejected(`{"user_id":"${USER_ID}","reason":"nul\\u0000"}`, "reason", name);
  }
  // A well-formed pair (an emoji) and other control characters are fine.
  const { app, calls } = testApp();
  const res = await app.fetch(
    request("/provision-user-fly-app", {
      body: `{"user_id":"${USER_ID}","reason":"ok \\ud83d\\ude00 \\t\\u0001"}`,
    }),
  );
  assertEquals(res.status, 200, await res.clone().text());
  assertEquals(calls.post.length, 1);
});

Deno.test("isStorableText: what Postgres text and jsonb accept", () => {
  assertEquals(isStorableText("plain ünïcödé 😀"), true);
  assertEquals(isStorableText("a\u0000b"), false);
  assertEquals(isStorableText("\ud800"), false);
  assertEquals(isStorableText("\ude00\ud83d"), false);
});

Deno.test("validation: malformed JSON, non-JSON and non-object bodies name the body", async () => {
  await assertRejected('{"user_id":', "body");
  await assertRejected(`user_id=${USER_ID}`, "body");
  const array = await assertRejected("[]", "body");
  assertEquals(array.message, "body must be a JSON object");
  await assertRejected('"text"', "body");
});

Deno.test("validation: health sweep bounds", async () => {
  const name = "check-fly-apps-health";
  await assertRejected(JSON.stringify({ limit: 0 }), "limit", name);
  await assertRejected(JSON.stringify({ limit: "10" }), "limit", name);
  await assertRejected(JSON.stringify({ budget_ms: 10 }), "budget_ms", name);
  await assertRejected(JSON.stringify({ budget_ms: 1e9 }), "budget_ms", name);
});

Deno.test("validation: ?wait must be a boolean", async () => {
  const { app, calls } = testApp();
  const res = await app.fetch(
    request("/provision-user-fly-app?wait=maybe", { body: JSON.stringify({ user_id: USER_ID }) }),
  );
  assertEquals(res.status, 400);
  assertEquals((await errorOf(res)).field, "wait");
  assertEquals(calls.post.length, 0);
});

Deno.test("validation: GET of a per-user function needs a user_id", async () => {
  const { app, calls } = testApp("deprovision-user-fly-app");
  const res = await app.fetch(request("/deprovision-user-fly-app?user_id=nope", { method: "GET" }));
  assertEquals(res.status, 400);
  assertEquals((await errorOf(res)).field, "user_id");
  assertEquals(calls.get.length, 0);
});

Deno.test("validation: valid input reaches the handler, typed and with wait", async () => {
  const { app, calls } = testApp();
  const body = JSON.stringify({ user_id: USER_ID, generation: 3, reason: "tier change", extra: "ignored" });
  assertEquals((await app.fetch(request("/provision-user-fly-app?wait=true", { body }))).status, 200);
  assertEquals((await app.fetch(request("/provision-user-fly-app", { body }))).status, 200);
  assertEquals(calls.post, [
    { body: { user_id: USER_ID, generation: 3, reason: "tier change" }, wait: true },
    { body: { user_id: USER_ID, generation: 3, reason: "tier change" }, wait: false },
  ]);
});

Deno.test("validation: an empty body is an empty object for the health sweep; GET gets its query", async () => {
  const { app, calls } = testApp("check-fly-apps-health");
  assertEquals((await app.fetch(request("/check-fly-apps-health"))).status, 200);
  assertEquals((await app.fetch(request("/check-fly-apps-health", { method: "GET" }))).status, 200);
  assertEquals(calls.post, [{ body: {}, wait: false }]);
  assertEquals(calls.get, [{}]);
});

Deno.test("validation: bodies over 64 KiB → 413 payload_too_large", async () => {
  const { app, calls } = testApp();
  const body = JSON.stringify({ user_id: USER_ID, reason: "x".repeat(70_000) });
  const res = await app.fetch(request("/provision-user-fly-app", { body }));
  assertEquals(res.status, 413);
  assertEquals((await errorOf(res)).code, "payload_too_large");
  assertEquals(calls.post.length, 0);
});
