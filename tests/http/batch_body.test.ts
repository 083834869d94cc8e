/**
 * The provision function's batch form `{user_ids: [...]}` (the tier-outbox drainer's one kick per batch):
 * valid bodies reach the handler as given; bad ones get 400 naming `user_ids` and reach nothing. The
 * deprovision function keeps the single-user form only.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { errorOf, request, testApp, USER_ID } from "./_support.ts";

const OTHER_ID = "8d1f2c3b-4a5e-4f60-9b7c-1d2e3f405162";

Deno.test("batch body: {user_ids, reason} reaches the provision handler", async () => {
  const { app, calls } = testApp("provision-user-fly-app");
  const body = { user_ids: [USER_ID, OTHER_ID], reason: "tier_changed" };
  const res = await app.fetch(request("/provision-user-fly-app", { body: JSON.stringify(body) }));
  assertEquals(res.status, 200);
  assertEquals(calls.post.length, 1);
  assertEquals(calls.post[0].body, body);
});

Deno.test("batch body: empty, too long, repeated or malformed user_ids get 400 naming user_ids", async () => {
  const cases: [unknown, string][] = [
    [[], "user_ids must name at least 1 user"],
    [Array.from({ length: 1001 }, () => crypto.randomUUID()), "user_ids must name at most 1000 users"],
    [[USER_ID, USER_ID.toUpperCase()], "user_ids must not repeat a user"],
    ["not-an-array", "user_ids must be an array of UUIDs"],
  ];
  for (const [userIds, message] of cases) {
    const { app, calls } = testApp("provision-user-fly-app");
    const res = await app.fetch(
      request("/provision-user-fly-app", { body: JSON.stringify({ user_ids: userIds }) }),
    );
    assertEquals(res.status, 400, message);
    const error = await errorOf(res);
    assertEquals([error.code, error.field, error.message], ["invalid_request", "user_ids", message]);
    assertEquals(calls.post.length, 0);
  }
  const { app } = testApp("provision-user-fly-app");
  const res = await app.fetch(
    request("/provision-user-fly-app", { body: JSON.stringify({ user_ids: [USER_ID, "nope"] }) }),
  );
  const error = await errorOf(res);
  assertEquals([res.status, error.field, error.message], [400, "user_ids.1", "user_ids.1 must be a UUID"]);
});

Deno.test("batch body: without user_ids the single form still applies; deprovision has no batch form", async () => {
  const { app } = testApp("provision-user-fly-app");
  const res = await app.fetch(request("/provision-user-fly-app", { body: "{}" }));
  assertEquals([res.status, (await errorOf(res)).field], [400, "user_id"]);
  const deprovision = testApp("deprovision-user-fly-app");
  const other = await deprovision.app.fetch(
    request("/deprovision-user-fly-app", { body: JSON.stringify({ user_ids: [USER_ID] }) }),
  );
  const error = await errorOf(other);
  assertEquals([other.status, error.field], [400, "user_id"]);
  assert(error.message.startsWith("user_id"), error.message);
});
