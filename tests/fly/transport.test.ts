import {
  type FlyAttemptLog,
  FlyBadRequestError,
  FlyNameTakenError,
  FlyNetworkError,
  FlyNotFoundError,
  FlyRateLimitedError,
  FlyServerError,
  FlyUnauthorizedError,
} from "../../supabase/functions/_shared/fly/mod.ts";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { machineConfig, withFly } from "./support/fly.ts";

Deno.test("retries: 429 twice then success; 503 on a GET is retried", async () => {
  await withFly(async ({ client, emulator }) => {
    await client.apps.create({ name: "retry", org_slug: "personal" });
    emulator.faults.add({ operation: "Apps_show", action: { type: "status", status: 429 }, times: 2 });
    assertEquals((await client.apps.get("retry")).name, "retry");
    emulator.faults.add({ operation: "Apps_show", action: { type: "status", status: 503 }, times: 1 });
    emulator.faults.add({ operation: "Apps_show", action: { type: "status", status: 502 }, times: 1 });
    assertEquals((await client.apps.get("retry")).name, "retry");
    assertEquals(emulator.requestCounts().Apps_show, { "429": 2, "503": 1, "502": 1, "200": 2 });
  });
});

Deno.test("retries: Retry-After is waited out; one beyond maxRetryAfterMs goes to the caller", async () => {
  await withFly(async ({ client, makeClient, emulator }) => {
    await client.apps.create({ name: "later", org_slug: "personal" });
    emulator.faults.add({
      operation: "Apps_show",
      action: { type: "status", status: 429, retryAfterSeconds: 1 },
      times: 1,
    });
    const started = performance.now();
    await client.apps.get("later");
    assert(performance.now() - started >= 990, "the retry waited for Retry-After");
    emulator.faults.add({
      operation: "Apps_show",
      action: { type: "status", status: 429, retryAfterSeconds: 120 },
      times: 1,
    });
    const error = await assertRejects(
      () => makeClient({ retry: { maxRetryAfterMs: 10_000 } }).apps.get("later"),
      FlyRateLimitedError,
    ) as FlyRateLimitedError;
    assertEquals([error.retryAfterMs, error.retryable], [120_000, true]);
  });
});

Deno.test("retries: a reset connection is retried for a GET, not for a create (which may have arrived)", async () => {
  await withFly(async ({ client, emulator }) => {
    await client.apps.create({ name: "reset", org_slug: "personal" });
    emulator.faults.add({ operation: "Apps_show", action: { type: "reset" }, times: 1 });
    assertEquals((await client.apps.get("reset")).name, "reset");
    emulator.faults.add({ operation: "Machines_create", action: { type: "reset" }, times: 1 });
    const error = await assertRejects(
      () => client.machines.create("reset", { region: "sin", config: machineConfig() }),
      FlyNetworkError,
    ) as FlyNetworkError;
    assertEquals([error.failure, error.mayHaveReachedServer, error.retryable], [
      "connection_lost",
      true,
      true,
    ]);
    assertEquals(emulator.requestCounts().Machines_create, { reset: 1 });
  });
});

Deno.test("retries: 5xx on a create is not retried blindly", async () => {
  await withFly(async ({ client, emulator }) => {
    await client.apps.create({ name: "five", org_slug: "personal" });
    emulator.faults.add({ operation: "Machines_create", action: { type: "status", status: 500 }, times: 1 });
    await assertRejects(
      () => client.machines.create("five", { region: "sin", config: machineConfig() }),
      FlyServerError,
    );
    assertEquals(emulator.requestCounts().Machines_create, { "500": 1 });
  });
});

Deno.test("dropped response: the create succeeded on the server, the client is not told, and does not create twice", async () => {
  await withFly(async ({ client, emulator }) => {
    await client.apps.create({ name: "drop", org_slug: "personal" });
    emulator.faults.add({ operation: "Machines_create", action: { type: "drop-response" }, times: 1 });
    const request = { region: "sin", config: machineConfig({ create_token: "tok-1" }) };
    const error = await assertRejects(
      () => client.machines.create("drop", request),
      FlyNetworkError,
    ) as FlyNetworkError;
    assert(error.mayHaveReachedServer);
    assertEquals(emulator.requestCounts().Machines_create, { dropped: 1 }, "the client sent it once");
    const silent = await client.machines.list("drop", { metadata: { create_token: "tok-1" } });
    assertEquals(silent.length, 1, "the silent success is found by its create token");
    assertEquals(emulator.state().apps[0].machines.length, 1);
  });
});

Deno.test("no retry on 400, 401, 404, 422; errors carry status, body fields and fly-request-id, never the token", async () => {
  await withFly(async ({ client, makeClient, emulator }) => {
    await client.apps.create({ name: "once", org_slug: "personal" });
    await assertRejects(() => client.apps.create({ name: "once", org_slug: "personal" }), FlyNameTakenError);
    await assertRejects(() => client.apps.get("missing"), FlyNotFoundError);
    await assertRejects(
      () => client.machines.create("once", { region: "nowhere", config: machineConfig() }),
      FlyBadRequestError,
      "unknown region",
    );
    const secretToken = "fo1_this-is-a-very-secret-token";
    const unauthorized = await assertRejects(
      () => makeClient({ token: secretToken }).apps.get("once"),
      FlyUnauthorizedError,
    ) as FlyUnauthorizedError;
    assertEquals([unauthorized.status, unauthorized.error, unauthorized.retryable], [
      401,
      "Authenticate: token validation error",
      false,
    ]);
    assert(unauthorized.requestId && unauthorized.message.includes(unauthorized.requestId));
    assert(!JSON.stringify({ ...unauthorized, message: unauthorized.message }).includes(secretToken));
    const counts = emulator.requestCounts();
    assertEquals([counts.Apps_create, counts.Apps_show, counts.Machines_create], [
      { "201": 1, "422": 1 },
      { "404": 1, "401": 1 },
      { "400": 1 },
    ]);
  });
});

Deno.test("timeouts: a slow answer times out per attempt; a GET is retried, a create is not", async () => {
  await withFly(async ({ client, makeClient, emulator }) => {
    await client.apps.create({ name: "slow", org_slug: "personal" });
    const impatient = makeClient({ timeoutMs: 100 });
    emulator.faults.add({ operation: "Apps_show", action: { type: "delay", ms: 300 }, times: 1 });
    assertEquals((await impatient.apps.get("slow")).name, "slow");
    emulator.faults.add({ operation: "Machines_create", action: { type: "delay", ms: 300 }, times: 1 });
    const error = await assertRejects(
      () => impatient.machines.create("slow", { region: "sin", config: machineConfig() }),
      FlyNetworkError,
    ) as FlyNetworkError;
    assertEquals([error.failure, error.mayHaveReachedServer], ["timeout", true]);
    await new Promise((resolve) => setTimeout(resolve, 300));
  });
});

Deno.test("connection refused is provably not sent, so even a create is retried; attempts are reported", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await withFly(async ({ makeClient }) => {
    const attempts: FlyAttemptLog[] = [];
    const client = makeClient({
      baseUrl: `http://127.0.0.1:${port}/v1`,
      retry: { maxRetries: 2 },
      onAttempt: (log) => attempts.push(log),
    });
    const error = await assertRejects(
      () => client.machines.create("nowhere", { region: "sin", config: machineConfig() }),
      FlyNetworkError,
    ) as FlyNetworkError;
    assertEquals([error.failure, error.mayHaveReachedServer], ["connection_refused", false]);
    assertEquals(attempts.map((attempt) => [attempt.attempt, attempt.failure]), [
      [0, "connection_refused"],
      [1, "connection_refused"],
      [2, "connection_refused"],
    ]);
  });
});
