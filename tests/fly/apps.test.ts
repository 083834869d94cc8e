import {
  FlyForbiddenError,
  FlyNameTakenError,
  FlyNotFoundError,
} from "../../supabase/functions/_shared/fly/mod.ts";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { withFly } from "./support/fly.ts";

Deno.test("apps: create answers 201 {id, created_at}; get, list by org and delete (202) round-trip", async () => {
  await withFly(async ({ client, emulator }) => {
    const created = await client.apps.create({ name: "user-app-1", org_slug: "personal" });
    assert(created.id.length > 0 && created.created_at > 0);
    const app = await client.apps.get("user-app-1");
    assertEquals([app.name, app.organization?.slug, app.id], ["user-app-1", "personal", created.id]);
    await client.apps.create({ name: "user-app-2", org_slug: "personal" });
    assertEquals((await client.apps.list("personal", { pageSize: 1 })).map((a) => a.name), [
      "user-app-1",
      "user-app-2",
    ]);
    assertEquals(await client.apps.list("other-org"), []);
    await client.apps.delete("user-app-1");
    await assertRejects(() => client.apps.get("user-app-1"), FlyNotFoundError);
    assertEquals(emulator.state().apps.map((a) => a.name), ["user-app-2"]);
  });
});

Deno.test("apps: a taken name answers 422 name_taken; another org's name answers 403 on get", async () => {
  await withFly(async ({ client }) => {
    await client.apps.create({ name: "mine", org_slug: "personal" });
    const taken = await assertRejects(
      () => client.apps.create({ name: "mine", org_slug: "personal" }),
      FlyNameTakenError,
    ) as FlyNameTakenError;
    assertEquals([taken.status, taken.flyStatus, taken.code, taken.retryable], [
      422,
      "name_taken",
      "name_taken",
      false,
    ]);
    await assertRejects(
      () => client.apps.create({ name: "theirs", org_slug: "personal" }),
      FlyNameTakenError,
    );
    const forbidden = await assertRejects(
      () => client.apps.get("theirs"),
      FlyForbiddenError,
    ) as FlyForbiddenError;
    assert(forbidden.requestId, "errors keep the fly-request-id");
    await assertRejects(() => client.apps.get("free-name"), FlyNotFoundError);
  }, { reservedNames: ["theirs"] });
});

Deno.test("apps: the emulator accepts app_name as well as name, and an idempotency_key replays the first app", async () => {
  await withFly(async ({ client, raw }) => {
    const response = await raw("POST", "/v1/apps", { app_name: "legacy-body", org_slug: "personal" });
    assertEquals(response.status, 201);
    await response.body?.cancel();
    assertEquals((await client.apps.get("legacy-body")).name, "legacy-body");
    const first = await client.apps.create({ name: "keyed", org_slug: "personal", idempotency_key: "k1" });
    const again = await client.apps.create({ name: "keyed", org_slug: "personal", idempotency_key: "k1" });
    assertEquals(again.id, first.id);
  });
});

Deno.test("apps: GET right after create is 404 while the app propagates (eventual consistency)", async () => {
  await withFly(async ({ client }) => {
    await client.apps.create({ name: "slow-app", org_slug: "personal" });
    await assertRejects(() => client.apps.get("slow-app"), FlyNotFoundError);
    await new Promise((resolve) => setTimeout(resolve, 600));
    assertEquals((await client.apps.get("slow-app")).name, "slow-app");
    // A window wide enough that a loaded machine still GETs inside it (50 ms flaked under load).
  }, { latency: { appPropagationMs: 500 } });
});

Deno.test("apps: delete cascades to the app's machines", async () => {
  await withFly(async ({ client, emulator }) => {
    await client.apps.create({ name: "cascade", org_slug: "personal" });
    await client.machines.create("cascade", { region: "sin", config: { image: "img:1" } });
    await client.apps.delete("cascade", { force: true });
    assertEquals(emulator.state().apps, []);
    await assertRejects(() => client.machines.list("cascade"), FlyNotFoundError);
  });
});
