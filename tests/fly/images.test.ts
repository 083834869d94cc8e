/** The emulator's image registry: image_ref per reference, re-pushed and removed tags, `-broken` and `-crash`. */
import { FlyBadRequestError, FlyConflictError } from "../../supabase/functions/_shared/fly/mod.ts";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { type FlyFixture, machineConfig, withFly } from "./support/fly.ts";

const APP = "imgs";

async function createWithImage({ client }: FlyFixture, image: string) {
  return await client.machines.create(APP, { region: "sin", config: { ...machineConfig(), image } });
}

async function startedWithImage(fixture: FlyFixture, image: string) {
  const machine = await createWithImage(fixture, image);
  await fixture.client.machines.wait(APP, machine.id, { timeoutSeconds: 5 });
  return await fixture.client.machines.get(APP, machine.id);
}

function withApp(body: (fixture: FlyFixture) => Promise<void>): Promise<void> {
  return withFly(async (fixture) => {
    await fixture.client.apps.create({ name: APP, org_slug: "personal" });
    await body(fixture);
  });
}

async function control(fixture: FlyFixture, path: string, image: string) {
  const response = await fetch(`${fixture.emulator.url}/_emulator/images/${path}`, {
    method: "POST",
    body: JSON.stringify({ image }),
  });
  assertEquals(response.status, 200);
  return await response.json();
}

Deno.test("images: registry.fly.io/<repo>:<tag> reports Fly's image_ref with a digest stable per reference", async () => {
  await withApp(async (fixture) => {
    const a = await createWithImage(fixture, "registry.fly.io/backend:v1");
    const b = await createWithImage(fixture, "registry.fly.io/backend:v1");
    const other = await createWithImage(fixture, "registry.fly.io/backend:v2");
    assertEquals({ ...a.image_ref, digest: undefined }, {
      registry: "registry.fly.io",
      repository: "backend",
      tag: "v1",
      digest: undefined,
      labels: {},
    });
    assert(/^sha256:[0-9a-f]{64}$/.test(String(a.image_ref?.digest)), "a sha256 digest");
    assertEquals(b.image_ref?.digest, a.image_ref?.digest, "same reference, same digest");
    assert(other.image_ref?.digest !== a.image_ref?.digest, "another tag, another digest");
    const hub = await createWithImage(fixture, "nginx:1.27");
    assertEquals([hub.image_ref?.registry, hub.image_ref?.repository, hub.image_ref?.tag], [
      "docker-hub-mirror.fly.io",
      "library/nginx",
      "1.27",
    ]);
  });
});

Deno.test("images: a re-pushed tag gets a new digest for new machines and updates; running ones keep theirs", async () => {
  await withApp(async (fixture) => {
    const { client } = fixture;
    const before = await startedWithImage(fixture, "registry.fly.io/backend:v2");
    const oldDigest = String(before.image_ref?.digest);
    const { digest: newDigest } = await control(fixture, "push", "registry.fly.io/backend:v2");
    assert(newDigest !== oldDigest, "a push mints a new digest");
    assertEquals(
      (await client.machines.get(APP, before.id)).image_ref?.digest,
      oldDigest,
      "no change by itself",
    );
    assertEquals((await createWithImage(fixture, "registry.fly.io/backend:v2")).image_ref?.digest, newDigest);

    const pinned = await client.machines.update(APP, before.id, {
      config: { ...machineConfig(), image: `registry.fly.io/backend@${oldDigest}` },
      current_version: before.version,
    });
    assertEquals([pinned.image_ref?.repository, pinned.image_ref?.digest], ["backend", oldDigest]);
    await assertRejects(
      () => createWithImage(fixture, `registry.fly.io/backend@sha256:${"0".repeat(64)}`),
      FlyBadRequestError,
      "MANIFEST_UNKNOWN",
    );
    assertEquals(fixture.emulator.images().map((entry) => [entry.image, entry.digest, entry.pushes]), [
      ["registry.fly.io/backend:v2", newDigest, 1],
    ]);
  });
});

Deno.test("images: a removed tag fails create and update with Fly's 400 'failed to get manifest', changing nothing", async () => {
  await withApp(async (fixture) => {
    const { client } = fixture;
    const running = await startedWithImage(fixture, "registry.fly.io/backend:v1");
    await control(fixture, "remove", "registry.fly.io/backend:gone");
    const error = await assertRejects(
      () => createWithImage(fixture, "registry.fly.io/backend:gone"),
      FlyBadRequestError,
      "failed to get manifest registry.fly.io/backend:gone: request failed: not found [http 404]",
    );
    assert(error.message.includes("MANIFEST_UNKNOWN"));
    assertEquals(
      (await client.machines.list(APP)).map((machine) => machine.id),
      [running.id],
      "none created",
    );
    await assertRejects(
      () =>
        client.machines.update(APP, running.id, {
          config: { ...machineConfig(), image: "registry.fly.io/backend:gone" },
          current_version: running.version,
        }),
      FlyBadRequestError,
      "failed to get manifest",
    );
    const after = await client.machines.get(APP, running.id);
    assertEquals([after.version, after.config.image, after.state], [
      running.version,
      running.config.image,
      "started",
    ]);

    const { digest } = await control(fixture, "push", "registry.fly.io/backend:gone");
    assertEquals((await createWithImage(fixture, "registry.fly.io/backend:gone")).image_ref?.digest, digest);
  });
});

Deno.test("images: a stale current_version answers 409 and leaves config and image_ref as they were", async () => {
  await withApp(async (fixture) => {
    const { client } = fixture;
    const machine = await startedWithImage(fixture, "registry.fly.io/backend:v1");
    await assertRejects(
      () =>
        client.machines.update(APP, machine.id, {
          config: { ...machineConfig(), image: "registry.fly.io/backend:v2" },
          current_version: "01JSTALEVERSION00000000000",
        }),
      FlyConflictError,
      "version mismatch",
    );
    const after = await client.machines.get(APP, machine.id);
    assertEquals([after.version, after.image_ref?.tag], [machine.version, "v1"]);
  });
});

Deno.test("images: '-broken' boots but its checks stay critical; '-crash' fails to start, also after an update", async () => {
  await withApp(async (fixture) => {
    const { client } = fixture;
    const broken = await startedWithImage(fixture, "registry.fly.io/backend:v3-broken");
    assertEquals(broken.state, "started");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const checks = (await client.machines.get(APP, broken.id)).checks ?? [];
    assertEquals(checks.map((check) => check.status), ["critical"]);

    const crashing = await createWithImage(fixture, "registry.fly.io/backend:v3-crash");
    assertEquals(
      await client.machines.wait(APP, crashing.id, { state: ["started", "failed"], timeoutSeconds: 5 }),
      {
        reached: true,
        state: "failed",
        version: crashing.version,
      },
    );

    const healthy = await startedWithImage(fixture, "registry.fly.io/backend:v1");
    assertEquals(healthy.checks?.map((check) => check.status), ["passing"]);
    const updated = await client.machines.update(APP, healthy.id, {
      config: { ...machineConfig(), image: "registry.fly.io/backend:v3-crash" },
      current_version: healthy.version,
    });
    const outcome = await client.machines.wait(APP, healthy.id, {
      state: ["started", "failed"],
      version: updated.version,
      timeoutSeconds: 5,
    });
    assertEquals(outcome.reached && outcome.state, "failed");
  });
});
