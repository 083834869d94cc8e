import {
  FlyConflictError,
  FlyNotFoundError,
  FlyPreconditionFailedError,
} from "../../supabase/functions/_shared/fly/mod.ts";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { machineConfig, withFly } from "./support/fly.ts";

Deno.test("leases: acquire (envelope unwrapped), 409 for another holder, nonce required on mutations, refresh, release", async () => {
  await withFly(async ({ client }) => {
    await client.apps.create({ name: "lease", org_slug: "personal" });
    const machine = await client.machines.create("lease", { region: "sin", config: machineConfig() });
    await client.machines.wait("lease", machine.id, { timeoutSeconds: 5 });
    const lease = await client.leases.acquire("lease", machine.id, {
      ttlSeconds: 30,
      description: "reconcile",
    });
    const nonce = lease.nonce ?? "";
    assert(nonce.length === 12 && lease.expires_at > Date.now() / 1000);
    await assertRejects(
      () => client.leases.acquire("lease", machine.id, { ttlSeconds: 30 }),
      FlyConflictError,
      "lease currently held",
    );
    await assertRejects(() => client.machines.stop("lease", machine.id), FlyConflictError);
    const shown = await client.leases.get("lease", machine.id);
    assertEquals([shown.description, shown.nonce], ["reconcile", undefined]);
    const refreshed = await client.leases.refresh("lease", machine.id, nonce, { ttlSeconds: 60 });
    assertEquals(refreshed.nonce, nonce);
    await client.machines.stop("lease", machine.id, { leaseNonce: nonce });
    await client.leases.release("lease", machine.id, nonce);
    await assertRejects(() => client.leases.get("lease", machine.id), FlyNotFoundError);
    await assertRejects(
      () => client.leases.release("lease", machine.id, nonce),
      FlyNotFoundError,
      "lease not found",
    );
  });
});

Deno.test("leases: create with lease_ttl returns the nonce on the machine", async () => {
  await withFly(async ({ client }) => {
    await client.apps.create({ name: "lease", org_slug: "personal" });
    const machine = await client.machines.create("lease", {
      region: "sin",
      config: machineConfig(),
      lease_ttl: 30,
    });
    assert(machine.nonce);
    await assertRejects(
      () => client.leases.acquire("lease", machine.id, { ttlSeconds: 5 }),
      FlyConflictError,
    );
  });
});

Deno.test("metadata: get, set, delete a key, bulk update with machine_version (412 when stale); no new version", async () => {
  await withFly(async ({ client }) => {
    await client.apps.create({ name: "meta", org_slug: "personal" });
    const machine = await client.machines.create("meta", {
      region: "sin",
      config: machineConfig({ user_id: "u1" }),
    });
    await client.metadata.set("meta", machine.id, "tier", "pro");
    assertEquals(await client.metadata.getKey("meta", machine.id, "tier"), "pro");
    await client.metadata.update("meta", machine.id, { tier: "", plan: "elite" }, {
      machineVersion: machine.version,
    });
    assertEquals(await client.metadata.get("meta", machine.id), { user_id: "u1", plan: "elite" });
    await client.metadata.delete("meta", machine.id, "plan");
    await assertRejects(() => client.metadata.getKey("meta", machine.id, "plan"), FlyNotFoundError);
    await assertRejects(
      () =>
        client.metadata.update("meta", machine.id, { a: "b" }, {
          machineVersion: "01STALEVERSION0000000000000",
        }),
      FlyPreconditionFailedError,
    );
    assertEquals((await client.machines.get("meta", machine.id)).version, machine.version);
    assertEquals((await client.machines.list("meta", { metadata: { user_id: "u1" } })).length, 1);
  });
});
