import { assert, assertEquals } from "../_support/assert.ts";
import { specViolations } from "./support/spec_conformance.ts";
import { machineConfig, withFly } from "./support/fly.ts";

Deno.test("emulator control: state, faults, reserved names, forced machine state and reset over HTTP", async () => {
  await withFly(async ({ client, emulator }) => {
    const control = (method: string, path: string, body?: unknown) =>
      fetch(`${emulator.url}/_emulator${path}`, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
      })
        .then((response) => response.json());
    await client.apps.create({ name: "ctl", org_slug: "personal" });
    await client.secrets.set("ctl", "API_KEY", "v1");
    const machine = await client.machines.create("ctl", {
      region: "sin",
      config: machineConfig({ user_id: "u" }),
    });
    await client.machines.wait("ctl", machine.id, { timeoutSeconds: 5 });

    const state = await control("GET", "/state");
    assertEquals([state.apps[0].name, state.apps[0].secrets[0].value, state.apps[0].machines[0].state], [
      "ctl",
      "v1",
      "started",
    ]);

    const { id } = await control("POST", "/faults", {
      operation: "Apps_show",
      action: { type: "status", status: 503 },
      times: 1,
    });
    assertEquals((await control("GET", "/faults")).map((rule: { id: string }) => rule.id), [id]);
    await client.apps.get("ctl");
    assertEquals(emulator.requestCounts().Apps_show, { "503": 1, "200": 1 });

    await control("POST", `/apps/ctl/machines/${machine.id}/state`, { state: "stopped" });
    assertEquals((await client.machines.get("ctl", machine.id)).state, "stopped");
    assertEquals((await client.machines.get("ctl", machine.id)).checks?.[0].status, "critical");

    await control("PUT", "/reserved-names", { names: ["someone-elses"] });
    assertEquals(emulator.state().reserved_names, ["someone-elses"]);

    await control("POST", "/reset");
    assertEquals((await control("GET", "/state")).apps, []);
  });
});

Deno.test("emulator: /v1 needs the bearer token (401 Authenticate: token validation error)", async () => {
  await withFly(async ({ emulator }) => {
    const response = await fetch(`${emulator.url}/v1/apps?org_slug=personal`);
    assertEquals([response.status, await response.json()], [401, {
      error: "Authenticate: token validation error",
    }]);
    assert(response.headers.get("fly-request-id"));
  });
});

Deno.test("emulator: probabilistic faults with a seed hit about the asked share of requests", async () => {
  await withFly(async ({ makeClient, emulator }) => {
    const client = makeClient({ retry: { maxRetries: 0 }, rateLimit: false });
    await client.apps.create({ name: "dice", org_slug: "personal" });
    emulator.faults.add({
      operation: "Secrets_list",
      action: { type: "status", status: 500 },
      probability: 0.3,
    });
    const outcomes = await Promise.allSettled(Array.from({ length: 200 }, () => client.secrets.list("dice")));
    const failed = outcomes.filter((outcome) => outcome.status === "rejected").length;
    assert(failed > 30 && failed < 90, `${failed} of 200 failed`);
  }, { faultSeed: 42, rateLimits: false });
});

Deno.test("spec check: catches a wrong type, an undeclared success status, an undeclared body and a bad error body", () => {
  assertEquals(
    specViolations({ method: "GET", path: "/v1/apps/a", status: 200, responseBody: { id: 7 } }, true),
    [
      "Apps_show (GET /v1/apps/a) 200: data/id must be string",
    ],
  );
  assertEquals(
    specViolations({
      method: "POST",
      path: "/v1/apps",
      requestBody: { name: 1 },
      status: 200,
      responseBody: {},
    }, true),
    [
      "Apps_create (POST /v1/apps) request: data/name must be string",
      "Apps_create (POST /v1/apps): status 200 is not in the spec",
    ],
  );
  assertEquals(
    specViolations({ method: "DELETE", path: "/v1/apps/a", status: 202, responseBody: { ok: true } }, false),
    [
      "Apps_delete (DELETE /v1/apps/a) 202: a body where the spec declares none",
    ],
  );
  assertEquals(
    specViolations({
      method: "GET",
      path: "/v1/apps/a",
      status: 404,
      responseBody: { error: "x", status: "nope" },
    }, false)
      .length,
    1,
  );
  assertEquals(
    specViolations({
      method: "POST",
      path: "/v1/apps/a/machines/0123456789abcd/stop",
      status: 200,
      responseBody: { ok: true },
    }, false),
    [],
  );
});

Deno.test("emulator: the org's app-create limit is 1/s with bursts of 3 unless set (Fly documents none)", async () => {
  await withFly(async ({ makeClient, emulator }) => {
    const client = makeClient({ rateLimit: false, retry: { maxRetries: 0 } });
    const createAll = (prefix: string) =>
      Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          client.apps.create({ name: `${prefix}-${i}`, org_slug: "personal" })),
      );
    const created = (outcomes: PromiseSettledResult<unknown>[]) =>
      outcomes.filter((o) => o.status === "fulfilled").length;
    assertEquals(created(await createAll("default")), 3, "a burst of 3, the rest refused");
    emulator.setAppCreateLimit({ ratePerSecond: 10, burst: 10 });
    assertEquals(created(await createAll("set")), 6, "the configured burst of 10");
  });
});
