import {
  FlyBadRequestError,
  FlyConflictError,
  FlyNotFoundError,
  FlyPreconditionFailedError,
} from "../../supabase/functions/_shared/fly/mod.ts";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { type FlyFixture, machineConfig, withFly } from "./support/fly.ts";

async function appWithMachine({ client }: FlyFixture, metadata: Record<string, string> = { user_id: "u1" }) {
  await client.apps.create({ name: "mach", org_slug: "personal" });
  const machine = await client.machines.create("mach", { region: "sin", config: machineConfig(metadata) });
  return machine;
}

Deno.test("machines: create answers at created and boots asynchronously to started; wait reports it", async () => {
  await withFly(async (fixture) => {
    const machine = await appWithMachine(fixture);
    assertEquals([machine.state, machine.region, machine.config.guest?.memory_mb], ["created", "sin", 512]);
    assertEquals(
      await fixture.client.machines.wait("mach", machine.id, { state: "started", timeoutSeconds: 5 }),
      {
        reached: true,
        state: "started",
        version: machine.version,
      },
    );
    const got = await fixture.client.machines.get("mach", machine.id);
    assertEquals(got.checks?.map((check) => [check.name, check.status]), [["health", "passing"]]);
    assertEquals(got.config.services?.[0].autostop, false, "the API answers autostop 'off' as false");
  });
});

Deno.test("machines: list filters by metadata, state and region", async () => {
  await withFly(async (fixture) => {
    const { client } = fixture;
    const mine = await appWithMachine(fixture, { managed_by: "us", user_id: "u1", create_token: "t1" });
    await client.machines.create("mach", {
      region: "iad",
      config: machineConfig({ managed_by: "us", user_id: "u2" }),
    });
    const found = await client.machines.list("mach", { metadata: { managed_by: "us", create_token: "t1" } });
    assertEquals(found.map((machine) => machine.id), [mine.id]);
    assertEquals((await client.machines.list("mach", { metadata: { managed_by: "us" } })).length, 2);
    assertEquals((await client.machines.list("mach", { region: "iad" })).length, 1);
    assertEquals((await client.machines.list("mach", { states: ["stopped"] })).length, 0);
    assertEquals((await client.machines.list("mach", { pageSize: 1 })).length, 2, "follows fly-next-cursor");
  });
});

Deno.test("machines: wait answers 'not yet' on 408, rejects timeouts outside 1..60 s, needs a version for stopped", async () => {
  await withFly(async (fixture) => {
    const { client, raw } = fixture;
    const machine = await appWithMachine(fixture);
    await client.machines.wait("mach", machine.id, { timeoutSeconds: 5 });
    assertEquals(
      await client.machines.wait("mach", machine.id, {
        state: "stopped",
        version: machine.version,
        timeoutSeconds: 1,
      }),
      {
        reached: false,
      },
    );
    const tooLong = await raw("GET", `/v1/apps/mach/machines/${machine.id}/wait?timeout=61`);
    assertEquals(tooLong.status, 400);
    assert((await tooLong.json()).error.includes("value must be inside range [1s, 1m0s]"));
    await assertRejects(
      () => client.machines.wait("mach", machine.id, { state: "stopped" }),
      FlyBadRequestError,
    );
  });
});

Deno.test("machines: stop then immediate start answers 412 'machine still active'; later the start succeeds", async () => {
  // A window long enough that "immediate" holds on a loaded machine too.
  const stillActiveMs = 1_000;
  await withFly(async (fixture) => {
    const { client } = fixture;
    const machine = await appWithMachine(fixture);
    await client.machines.wait("mach", machine.id, { timeoutSeconds: 5 });
    await client.machines.stop("mach", machine.id);
    await client.machines.wait("mach", machine.id, {
      state: "stopped",
      version: machine.version,
      timeoutSeconds: 5,
    });
    const race = await assertRejects(
      () => client.machines.start("mach", machine.id),
      FlyPreconditionFailedError,
    );
    assert(
      race.message.includes("machine still active, refusing to start") &&
        (race as FlyPreconditionFailedError).retryable,
    );
    await new Promise((resolve) => setTimeout(resolve, stillActiveMs));
    assertEquals((await client.machines.start("mach", machine.id)).previous_state, "stopped");
    await client.machines.wait("mach", machine.id, { timeoutSeconds: 5 });
  }, { latency: { stillActiveMs } });
});

Deno.test("machines: update replaces the config with a new version; a stale current_version answers 409", async () => {
  // A replacement long enough that the start right after the update meets it on a loaded machine too.
  const replaceMs = 1_000;
  await withFly(async (fixture) => {
    const { client } = fixture;
    const machine = await appWithMachine(fixture);
    await client.machines.wait("mach", machine.id, { timeoutSeconds: 5 });
    const config = { ...machineConfig({ user_id: "u1" }), image: "registry.example/app:2" };
    const updated = await client.machines.update("mach", machine.id, {
      config,
      current_version: machine.version,
    });
    assert(updated.version !== machine.version);
    assertEquals([updated.state, updated.config.image], ["replacing", "registry.example/app:2"]);
    const refused = await assertRejects(
      () => client.machines.start("mach", machine.id),
      FlyPreconditionFailedError,
    );
    assert(refused.message.includes("getting replaced"));
    await assertRejects(
      () => client.machines.update("mach", machine.id, { config, current_version: machine.version }),
      FlyConflictError,
    );
    await client.machines.wait("mach", machine.id, { timeoutSeconds: 5, version: updated.version });
    await assertRejects(
      () => client.machines.update("mach", machine.id, { config, region: "iad" }),
      FlyBadRequestError,
      "region cannot be changed",
    );
  }, { latency: { replaceMs } });
});

Deno.test("machines: min_secrets_version above the app's secrets answers 412 until the version exists", async () => {
  await withFly(async ({ client }) => {
    await client.apps.create({ name: "mach", org_slug: "personal" });
    const request = { region: "sin", config: machineConfig(), min_secrets_version: 1 };
    await assertRejects(
      () => client.machines.create("mach", request),
      FlyPreconditionFailedError,
      "not yet available",
    );
    const { version } = await client.secrets.set("mach", "API_KEY", "value");
    assertEquals(version, 1);
    assertEquals((await client.machines.create("mach", request)).state, "created");
  });
});

Deno.test("machines: delete needs force while running; restart and suspend; destroyed machines leave the list", async () => {
  await withFly(async (fixture) => {
    const { client } = fixture;
    const machine = await appWithMachine(fixture);
    await client.machines.wait("mach", machine.id, { timeoutSeconds: 5 });
    await client.machines.restart("mach", machine.id);
    await client.machines.wait("mach", machine.id, { timeoutSeconds: 5 });
    await client.machines.suspend("mach", machine.id);
    await client.machines.wait("mach", machine.id, { state: "suspended", timeoutSeconds: 5 });
    await client.machines.start("mach", machine.id);
    await client.machines.wait("mach", machine.id, { timeoutSeconds: 5 });
    await assertRejects(
      () => client.machines.delete("mach", machine.id),
      FlyPreconditionFailedError,
      "not currently stopped",
    );
    await client.machines.delete("mach", machine.id, { force: true });
    await client.machines.wait("mach", machine.id, { state: "destroyed", timeoutSeconds: 5 });
    assertEquals(await client.machines.list("mach"), []);
    assertEquals((await client.machines.list("mach", { includeDeleted: true }))[0].state, "destroyed");
    await assertRejects(() => client.machines.start("mach", machine.id), FlyNotFoundError);
  });
});

Deno.test("machines: an unpullable image ends failed; invalid guest sizes answer 400 with Fly's message", async () => {
  await withFly(async ({ client }) => {
    await client.apps.create({ name: "mach", org_slug: "personal" });
    const broken = await client.machines.create("mach", {
      region: "sin",
      config: { image: "example/unpullable:1" },
    });
    const outcome = await client.machines.wait("mach", broken.id, { state: "failed", timeoutSeconds: 5 });
    assertEquals(outcome, { reached: true, state: "failed", version: broken.version });
    await assertRejects(
      () =>
        client.machines.create("mach", {
          region: "sin",
          config: { image: "img:1", guest: { cpu_kind: "performance", cpus: 2, memory_mb: 1024 } },
        }),
      FlyBadRequestError,
      "minimum required 4096 MiB",
    );
  });
});

Deno.test("machines: a forced delete sends force=true and kill=true; the emulator honours either alone", async () => {
  await withFly(async (fixture) => {
    const { client, raw, recorder } = fixture;
    const running = [await appWithMachine(fixture)];
    for (let i = 0; i < 2; i++) {
      running.push(await client.machines.create("mach", { region: "sin", config: machineConfig() }));
    }
    for (const machine of running) await client.machines.wait("mach", machine.id, { timeoutSeconds: 5 });

    await client.machines.delete("mach", running[0].id, { force: true });
    const sent = recorder.exchanges.map(({ exchange }) => exchange).find((exchange) =>
      exchange.method === "DELETE"
    );
    assertEquals(sent?.query, [["force", "true"], ["kill", "true"]]);
    for (const [machine, flag] of [[running[1], "kill"], [running[2], "force"]] as const) {
      const response = await raw("DELETE", `/v1/apps/mach/machines/${machine.id}?${flag}=true`);
      assertEquals(response.status, 200, `${flag}=true alone destroys a running machine`);
      await response.body?.cancel();
    }
    for (const machine of running) {
      await client.machines.wait("mach", machine.id, { state: "destroyed", timeoutSeconds: 5 });
    }
  });
});
