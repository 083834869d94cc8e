/**
 * `GET /v1/orgs/{org_slug}/machines` through the client against the emulator: every exchange is checked
 * against the spec by `withFly`; these tests check paging, filters and partial answers.
 */
import {
  FlyBadRequestError,
  FlyNotFoundError,
  type OrgMachine,
  type OrgMachinesPage,
} from "../../supabase/functions/_shared/fly/mod.ts";
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { type FlyFixture, machineConfig, withFly } from "./support/fly.ts";

const ORG = "personal";
/** Paging tests make many list calls; the documented 1 request/s per org would only slow them down. */
const UNLIMITED = [{ rateLimits: false }, { rateLimit: false as const }] as const;

/** Creates `count` machines that rest at `created` (no boot timers, so the listing order is the creation order). */
async function restingMachines(
  { client }: FlyFixture,
  appName: string,
  count: number,
  region = "sin",
): Promise<string[]> {
  await client.apps.create({ name: appName, org_slug: ORG });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const machine = await client.machines.create(appName, {
      region,
      skip_launch: true,
      config: machineConfig({ managed_by: "tests", user_id: `${appName}-${i}` }),
    });
    ids.push(machine.id);
  }
  return ids;
}

async function setListing(fixture: FlyFixture, knobs: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${fixture.emulator.url}/_emulator/org-machines`, {
    method: "PUT",
    body: JSON.stringify(knobs),
  });
  assertEquals(response.status, 200, await response.text());
}

function ids(machines: readonly OrgMachine[]): string[] {
  return machines.map((machine) => machine.id);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("org machines: every machine of every app, with app name, state, version, updated_at and config metadata", async () => {
  await withFly(async (fixture) => {
    const { client } = fixture;
    const first = await restingMachines(fixture, "om-a", 2);
    const [other] = await restingMachines(fixture, "om-b", 1, "iad");
    const listing = await client.orgMachines.listAll(ORG);
    assertEquals(ids(listing.machines), [...first, other], "oldest change first");
    assertEquals([listing.pages, listing.errorRegions], [1, []]);
    const machine = listing.machines[2];
    const created = await client.machines.get("om-b", other);
    assertEquals(
      [machine.app_name, machine.state, machine.region, machine.version, machine.updated_at],
      ["om-b", "created", "iad", created.version, created.updated_at],
    );
    assertEquals(machine.config?.metadata, { managed_by: "tests", user_id: "om-b-0" });
    assertEquals(machine.config?.guest?.memory_mb, 512);
    assertEquals(machine.config?.image, "registry.example/app:1");

    const summary = await client.orgMachines.listPage(ORG, { summary: true });
    assertEquals(ids(summary.machines), [...first, other]);
    assert(summary.machines.every((m) => m.config === undefined && m.app_name && m.version), "no config");
    const sent = fixture.recorder.exchanges.map(({ exchange }) => exchange)
      .filter((exchange) => exchange.path === `/v1/orgs/${ORG}/machines`);
    assertEquals(sent.at(-1)?.query, [["summary", "true"]]);
  });
});

Deno.test("org machines: the pages iterator follows next_cursor through short and empty pages to the end", async () => {
  await withFly(async (fixture) => {
    const created = [
      ...await restingMachines(fixture, "om-a", 4),
      ...await restingMachines(fixture, "om-b", 3),
    ];
    await setListing(fixture, { max_page_size: 2, empty_pages: 2 });
    const pages: OrgMachinesPage[] = [];
    for await (const page of fixture.client.orgMachines.pages(ORG, { limit: 3 })) pages.push(page);
    assertEquals(pages.map((page) => page.machines.length), [0, 0, 2, 2, 2, 1]);
    assertEquals(pages.flatMap((page) => ids(page.machines)), created);
    assert(pages.slice(0, -1).every((page) => page.nextCursor), "every page but the last has a cursor");
    assertEquals(pages.at(-1)?.nextCursor, undefined);
    assertEquals(pages[2].lastMachineId, created[1]);
  }, ...UNLIMITED);
});

Deno.test("org machines: a machine that changes while someone pages is listed again later, none is skipped", async () => {
  await withFly(async (fixture) => {
    const { client, emulator } = fixture;
    const created = await restingMachines(fixture, "om-a", 6);
    const first = await client.orgMachines.listPage(ORG, { limit: 2 });
    assertEquals(ids(first.machines), created.slice(0, 2));
    emulator.setMachineState("om-a", created[0], "stopped");
    emulator.setMachineState("om-a", created[4], "stopped");
    const rest: OrgMachine[] = [];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await client.orgMachines.listPage(ORG, { limit: 2, cursor });
      rest.push(...page.machines);
      cursor = page.nextCursor;
    }
    assertEquals(ids(rest), [created[2], created[3], created[5], created[0], created[4]]);
    assertEquals(rest.at(-1)?.state, "stopped");
  }, ...UNLIMITED);
});

Deno.test("org machines: updated_after returns only machines changed since, and every change bumps updated_at", async () => {
  await withFly(async (fixture) => {
    const { client, emulator } = fixture;
    const [a, b, c] = await restingMachines(fixture, "om-a", 3);
    const highWater = (await client.orgMachines.listAll(ORG)).machines.at(-1)!.updated_at;
    assertEquals((await client.orgMachines.listAll(ORG, { updatedAfter: highWater })).machines, []);
    await sleep(5);
    emulator.setMachineState("om-a", b, "stopped");
    await sleep(5);
    await client.metadata.set("om-a", a, "tier", "pro");
    const changed = await client.orgMachines.listAll(ORG, { updatedAfter: new Date(highWater) });
    assertEquals(ids(changed.machines), [b, a], "state changes and metadata writes count, oldest first");
    assertEquals(changed.machines[1].config?.metadata?.tier, "pro");
    assert(changed.machines.every((machine) => machine.updated_at > highWater));
    await sleep(5);
    const before = changed.machines[1].updated_at;
    await client.machines.update("om-a", c, { config: { ...machineConfig(), env: { NEW: "1" } } });
    const afterUpdate = await client.orgMachines.listAll(ORG, { updatedAfter: before });
    assertEquals(ids(afterUpdate.machines), [c], "a config update counts");
  }, ...UNLIMITED);
});

Deno.test("org machines: destroyed machines only with include_deleted, until the retention passes; app deletion destroys", async () => {
  await withFly(async (fixture) => {
    const { client } = fixture;
    const [kept, destroyed] = await restingMachines(fixture, "om-a", 2);
    const [orphan] = await restingMachines(fixture, "om-b", 1, "iad");
    await client.machines.delete("om-a", destroyed, { force: true });
    await client.machines.wait("om-a", destroyed, { state: "destroyed", timeoutSeconds: 5 });
    await client.apps.delete("om-b");
    assertEquals(ids((await client.orgMachines.listAll(ORG)).machines), [kept]);
    const withDeleted = await client.orgMachines.listAll(ORG, { includeDeleted: true });
    assertEquals(
      withDeleted.machines.map((machine) => [machine.id, machine.app_name, machine.state]),
      [[kept, "om-a", "created"], [destroyed, "om-a", "destroyed"], [orphan, "om-b", "destroyed"]],
    );
    await setListing(fixture, { deleted_retention_ms: 0 });
    await sleep(2);
    assertEquals(ids((await client.orgMachines.listAll(ORG, { includeDeleted: true })).machines), [kept]);
  }, ...UNLIMITED);
});

Deno.test("org machines: region and state filters; error_regions marks a partial answer", async () => {
  await withFly(async (fixture) => {
    const { client, emulator } = fixture;
    const [sin] = await restingMachines(fixture, "om-a", 1, "sin");
    const [iad] = await restingMachines(fixture, "om-b", 1, "iad");
    emulator.setMachineState("om-b", iad, "stopped");
    assertEquals(ids((await client.orgMachines.listAll(ORG, { region: "iad" })).machines), [iad]);
    assertEquals(ids((await client.orgMachines.listAll(ORG, { states: ["created"] })).machines), [sin]);
    await setListing(fixture, { error_regions: ["iad"] });
    const partial = await client.orgMachines.listAll(ORG);
    assertEquals([ids(partial.machines), partial.errorRegions], [[sin], ["iad"]]);
  }, ...UNLIMITED);
});

Deno.test("org machines: limit outside 1..1000 is refused by the client before sending, and by the emulator with 400", async () => {
  await withFly(async ({ client, raw, emulator }) => {
    for (const limit of [0, 1001, 1.5]) {
      await assertRejects(() => client.orgMachines.listPage(ORG, { limit }), RangeError, "limit");
    }
    assertEquals(emulator.requestCounts().Machines_org_list, undefined, "nothing was sent");
    const refusals = [
      ["limit=0", "limit must be between 1 and 1000"],
      ["limit=1001", "limit must be between 1 and 1000"],
      ["limit=ten", "limit must be between 1 and 1000"],
      ["cursor=bm90LWEtY3Vyc29y", "invalid cursor"],
      ["updated_after=yesterday", "updated_after must be an RFC 3339 timestamp"],
      ["state=destroyed", "invalid state 'destroyed'"],
    ];
    for (const [query, message] of refusals) {
      const response = await raw("GET", `/v1/orgs/${ORG}/machines?${query}`);
      const body = await response.json();
      assertEquals(response.status, 400, query);
      assert(body.error.startsWith("invalid_argument: ") && body.error.includes(message), body.error);
    }
    assertEquals((await raw("GET", `/v1/orgs/${ORG}/machines?limit=1000`)).status, 200);
    await assertRejects(() => client.orgMachines.listPage("another-org"), FlyNotFoundError, "organization");
    await assertRejects(
      () => client.orgMachines.listPage(ORG, { updatedAfter: "not a time" }),
      FlyBadRequestError,
      "updated_after",
    );
  }, ...UNLIMITED);
});

Deno.test("org machines: the client stays within the documented 1 request/s (burst 3) per org while paging", async () => {
  await withFly(async (fixture) => {
    await restingMachines(fixture, "om-a", 3);
    assertEquals((await fixture.client.orgMachines.listAll(ORG, { limit: 1 })).pages, 3);
    assertEquals((await fixture.client.orgMachines.listAll(ORG, { limit: 2 })).pages, 2);
    assertEquals(
      fixture.emulator.requestCounts().Machines_org_list,
      { "200": 5 },
      "no 429 from the emulator",
    );
  });
});
