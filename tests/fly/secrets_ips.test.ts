import { FlyNotFoundError } from "../../supabase/functions/_shared/fly/mod.ts";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { withFly } from "./support/fly.ts";

Deno.test("secrets: every write returns a rising version; list shows digests, not values", async () => {
  await withFly(async ({ client, emulator }) => {
    await client.apps.create({ name: "sec", org_slug: "personal" });
    const first = await client.secrets.set("sec", "API_KEY", "s3cret-value");
    const bulk = await client.secrets.update("sec", { DB_URL: "postgres://x", OLD: "gone-soon" });
    const unset = await client.secrets.update("sec", { OLD: null });
    const deleted = await client.secrets.delete("sec", "DB_URL");
    assertEquals([first.version, bulk.version, unset.version, deleted.version], [1, 2, 3, 4]);
    const listed = await client.secrets.list("sec");
    assertEquals(listed.map((secret) => secret.name), ["API_KEY"]);
    assert(listed[0].digest && listed[0].value === undefined, "values are not listed by default");
    assertEquals(emulator.state().apps[0].secrets.map((s) => s.value), ["s3cret-value"]);
    await assertRejects(() => client.secrets.delete("sec", "NOPE"), FlyNotFoundError);
  });
});

Deno.test("ip_assignments: assign shared_v4 and v6, list, remove", async () => {
  await withFly(async ({ client }) => {
    await client.apps.create({ name: "ips", org_slug: "personal" });
    assertEquals(await client.ipAssignments.list("ips"), []);
    const shared = await client.ipAssignments.assign("ips", { type: "shared_v4", org_slug: "personal" });
    const v6 = await client.ipAssignments.assign("ips", { type: "v6", org_slug: "personal" });
    assertEquals(shared.shared, true);
    assert(v6.ip?.includes(":"));
    assertEquals((await client.ipAssignments.list("ips")).length, 2);
    await client.ipAssignments.remove("ips", v6.ip!);
    assertEquals((await client.ipAssignments.list("ips")).map((ip) => ip.ip), [shared.ip]);
  });
});

Deno.test("ip_assignments: the client sends the org slug as flyctl does; the emulator refuses another org's", async () => {
  await withFly(async ({ client, recorder }) => {
    await client.apps.create({ name: "ips", org_slug: "personal" });
    await client.ipAssignments.assign("ips", { type: "private_v6", org_slug: "personal", network: "net" });
    const sent = recorder.exchanges.map(({ exchange }) => exchange).find((exchange) =>
      exchange.method === "POST" && exchange.path.endsWith("/ip_assignments")
    );
    assertEquals(sent?.requestBody, { type: "private_v6", org_slug: "personal", network: "net" });
    assertEquals((await client.ipAssignments.list("ips"))[0].network, { name: "net", org_slug: "personal" });
    await assertRejects(
      () => client.ipAssignments.assign("ips", { type: "v6", org_slug: "someone-else" }),
      FlyNotFoundError,
      "organization 'someone-else'",
    );
    assertEquals((await client.ipAssignments.list("ips")).length, 1, "the refused call changed nothing");
  });
});
