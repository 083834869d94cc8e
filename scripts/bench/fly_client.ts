/**
 * Benchmark of the Fly client against the in-process emulator (`deno run -A scripts/bench/fly_client.ts`):
 *
 * 1. Client overhead per call against raw fetch (same requests, emulator with no added latency, no limits).
 * 2. Achieved vs documented rate for bursts on one machine / one app, with the client's limiter on and the
 *    emulator enforcing the documented limits (realistic per-request latency); 429s counted.
 */
import { startFlyEmulator } from "../local/fly-emulator/mod.ts";
import { createFlyClient } from "../../supabase/functions/_shared/fly/mod.ts";

const OVERHEAD_CALLS = 1_000;

async function timePerCall(calls: number, call: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 50; i++) await call();
  const started = performance.now();
  for (let i = 0; i < calls; i++) await call();
  return (performance.now() - started) / calls;
}

async function overhead(): Promise<void> {
  const emulator = await startFlyEmulator({ rateLimits: false });
  try {
    const client = createFlyClient({ baseUrl: emulator.url, token: emulator.token, rateLimit: false });
    await client.apps.create({ name: "bench-app", org_slug: emulator.orgSlug });
    const machine = await client.machines.create("bench-app", {
      region: "sin",
      config: { image: "registry.example/app:1", metadata: { user_id: "bench" } },
    });
    const headers = { authorization: `Bearer ${emulator.token}`, accept: "application/json" };
    const cases: [string, string, () => Promise<unknown>][] = [
      ["GET app", "/v1/apps/bench-app", () => client.apps.get("bench-app")],
      [
        "GET machine",
        `/v1/apps/bench-app/machines/${machine.id}`,
        () => client.machines.get("bench-app", machine.id),
      ],
    ];
    for (const [label, path, viaClient] of cases) {
      const raw = await timePerCall(
        OVERHEAD_CALLS,
        async () => (await fetch(`${emulator.url}${path}`, { headers })).json(),
      );
      const typed = await timePerCall(OVERHEAD_CALLS, viaClient);
      console.log(
        `overhead ${label.padEnd(12)} raw fetch ${(raw * 1000).toFixed(0)} µs/call, client ${
          (typed * 1000).toFixed(0)
        } µs/call,` +
          ` ratio ${(typed / raw).toFixed(2)}, overhead ${
            ((typed - raw) * 1000).toFixed(0)
          } µs/call (${OVERHEAD_CALLS} calls)`,
      );
    }
  } finally {
    await emulator.close();
  }
}

async function burst(
  label: string,
  operation: string,
  calls: number,
  documented: { ratePerSecond: number; burst: number },
  run: (
    client: ReturnType<typeof createFlyClient>,
    appName: string,
    machineId: string,
  ) => Promise<unknown>,
): Promise<void> {
  const emulator = await startFlyEmulator({ latency: { requestMs: 30 } });
  try {
    const client = createFlyClient({ baseUrl: emulator.url, token: emulator.token });
    await client.apps.create({ name: "burst-app", org_slug: emulator.orgSlug });
    const machine = await client.machines.create("burst-app", { region: "sin", config: { image: "img:1" } });
    const started = performance.now();
    await Promise.all(Array.from({ length: calls }, () => run(client, "burst-app", machine.id)));
    const seconds = (performance.now() - started) / 1000;
    const counts = emulator.requestCounts()[operation] ?? {};
    const sustained = (calls - documented.burst) / seconds;
    console.log(
      `burst    ${label.padEnd(12)} ${calls} calls in ${seconds.toFixed(2)} s: sustained ${
        sustained.toFixed(2)
      } req/s` +
        ` vs documented ${documented.ratePerSecond} req/s (burst ${documented.burst}) = ${
          (100 * sustained / documented.ratePerSecond).toFixed(0)
        }%, 429s: ${counts["429"] ?? 0}`,
    );
  } finally {
    await emulator.close();
  }
}

await overhead();
await burst(
  "GET machine",
  "Machines_show",
  50,
  { ratePerSecond: 5, burst: 10 },
  (client, app, id) => client.machines.get(app, id),
);
await burst(
  "list machines",
  "Machines_list",
  10,
  { ratePerSecond: 1, burst: 3 },
  (client, app) => client.machines.list(app),
);
