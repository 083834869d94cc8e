import { FlyRateLimitedError } from "../../supabase/functions/_shared/fly/mod.ts";
import { assert, assertEquals } from "../_support/assert.ts";
import { machineConfig, withFly } from "./support/fly.ts";

const BURST = 50;
const GET_MACHINE = { ratePerSecond: 5, burst: 10 };

Deno.test("limiter: a burst of 50 Get Machine calls on one machine meets no 429 and never exceeds the documented rate", async () => {
  await withFly(async ({ client, emulator }) => {
    await client.apps.create({ name: "burst", org_slug: "personal" });
    const machine = await client.machines.create("burst", { region: "sin", config: machineConfig() });
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: BURST }, () => client.machines.get("burst", machine.id)),
    );
    const seconds = (performance.now() - started) / 1000;
    assertEquals(results.length, BURST);
    assertEquals(emulator.requestCounts().Machines_show, { "200": BURST }, "no 429 at all");
    const documentedSeconds = (BURST - GET_MACHINE.burst) / GET_MACHINE.ratePerSecond;
    console.log(`burst of ${BURST}: ${seconds.toFixed(2)} s, documented minimum ${documentedSeconds} s`);
    assert(seconds >= documentedSeconds * 0.9, "never faster than the documented limit allows");
  });
});

Deno.test("emulator: without the client's limiter the same burst meets 429s", async () => {
  await withFly(async ({ makeClient, emulator }) => {
    const client = makeClient({ rateLimit: false, retry: { maxRetries: 0 } });
    await client.apps.create({ name: "storm", org_slug: "personal" });
    const machine = await client.machines.create("storm", { region: "sin", config: machineConfig() });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () => client.machines.get("storm", machine.id)),
    );
    const limited = outcomes.filter((outcome) =>
      outcome.status === "rejected" && outcome.reason instanceof FlyRateLimitedError
    );
    assertEquals(limited.length, 10, "the documented burst of 10 passes, the rest is refused");
    assertEquals(emulator.requestCounts().Machines_show, { "200": 10, "429": 10 });
  });
});

Deno.test("limiter: different machines do not share a bucket", async () => {
  await withFly(async ({ client, emulator }) => {
    await client.apps.create({ name: "many", org_slug: "personal" });
    const machines = await Promise.all(
      ["sin", "iad", "ams"].map((region) =>
        client.machines.create("many", { region, config: machineConfig() })
      ),
    );
    const started = performance.now();
    await Promise.all(
      machines.flatMap((machine) =>
        Array.from({ length: 10 }, () => client.machines.get("many", machine.id))
      ),
    );
    assert(performance.now() - started < 1_000, "30 calls over 3 machines fit in their bursts");
    assertEquals(emulator.requestCounts().Machines_show, { "200": 30 });
  });
});

Deno.test("limiter: a second client taking a machine over starts its buckets cold and meets no 429; warm, it would", async () => {
  await withFly(async ({ client, makeClient, emulator }) => {
    await client.apps.create({ name: "handover", org_slug: "personal" });
    const [machine, other] = await Promise.all(
      ["sin", "iad"].map((region) => client.machines.create("handover", { region, config: machineConfig() })),
    );
    const burst = (fly: typeof client, id = machine.id) =>
      Promise.allSettled(Array.from({ length: 9 }, () => fly.machines.get("handover", id)));
    // The first instance spends its whole client burst (9 of Fly's 10), then lets go.
    await burst(client);
    const releasedAt = Date.now();
    const noRetry = { retry: { maxRetries: 0 } };
    const cold = makeClient(noRetry).scoped({ signal: new AbortController().signal, coldSince: releasedAt });
    const started = performance.now();
    const outcomes = await burst(cold);
    const seconds = (performance.now() - started) / 1000;
    assertEquals(outcomes.filter((o) => o.status === "rejected").length, 0, "cold: no call refused");
    assertEquals(emulator.requestCounts().Machines_show, { "200": 18 }, "no 429");
    assert(seconds >= 8 / GET_MACHINE.ratePerSecond, `paced at the refill rate (${seconds.toFixed(2)} s)`);

    // The same hand-over of another machine with warm buckets: the new client's burst meets Fly's emptied one.
    await burst(client, other.id);
    const warm = await burst(makeClient(noRetry), other.id);
    assert(
      warm.some((o) => o.status === "rejected" && o.reason instanceof FlyRateLimitedError),
      "warm: 429s",
    );
  });
});
