import { assert, assertEquals } from "../_support/assert.ts";
import { z } from "zod";
import { type FunctionName, isStorableText } from "../../supabase/functions/_shared/http/schemas.ts";
import { invalidRequest } from "../../supabase/functions/_shared/http/validate.ts";
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

Deno.test("validation: a body must say it is JSON: another Content-Type, or a body without one, is 415", async () => {
  const { app, calls } = testApp();
  const body = JSON.stringify({ user_id: USER_ID });
  const withType = (type: string, payload: BodyInit = body) =>
    app.fetch(
      request("/provision-user-fly-app", { body: payload as string, headers: { "content-type": type } }),
    );
  for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
    const res = await withType(type);
    assertEquals(res.status, 415, type);
    assertEquals((await errorOf(res)).code, "unsupported_media_type");
  }
  const emptyText = await withType("text/plain", "");
  assertEquals(emptyText.status, 415, "a non-JSON type is refused even without a body");
  await emptyText.body?.cancel();
  // Bytes set no Content-Type of their own: a body that does not say what it is.
  const untyped = await app.fetch(
    new Request("http://functions.local/provision-user-fly-app", {
      method: "POST",
      body: new TextEncoder().encode(body),
      headers: { authorization: request("/").headers.get("authorization")! },
    }),
  );
  assertEquals(untyped.status, 415);
  await untyped.body?.cancel();
  assertEquals(calls.post.length, 0);
  const charset = await withType("Application/JSON; charset=utf-8");
  assertEquals(charset.status, 200, "parameters and case do not matter");
  await charset.body?.cancel();
  assertEquals(calls.post.length, 1);
});

Deno.test("validation: a strict schema's unknown fields are named", () => {
  const schema = z.strictObject({ known: z.number().optional(), plan: z.strictObject({}).optional() });
  const one = invalidRequest(schema.safeParse({ known: 1, canaries: 2 }).error!, "body");
  assertEquals([one.status, one.field, one.message], [
    400,
    "canaries",
    "canaries is not a field of this request",
  ]);
  const nested = invalidRequest(schema.safeParse({ plan: { gpu: 1 } }).error!, "body");
  assertEquals([nested.field, nested.message], ["plan.gpu", "plan.gpu is not a field of this request"]);
  const two = invalidRequest(schema.safeParse({ a: 1, b: 2 }).error!, "body");
  assertEquals([two.field, two.message], ["a", "a, b are not fields of this request"]);
});
