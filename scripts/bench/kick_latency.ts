/**
 * Benchmark: latency from the commit of a tier change to the provision function being called, through the
 * tier outbox, the one-second drainer (the local stand-in for pg_cron's `'1 seconds'` job), the pg_net
 * stand-in and its worker. The function endpoint is an HTTP recorder answering 202 at once, so what is
 * measured is the path up to the function's door.
 *
 * Usage: `deno task bench kick_latency`, or `LOCAL_DB_URL=postgres://... deno run -A
 * scripts/bench/kick_latency.ts [--samples=N]` (env BENCH_KICK_SAMPLES, default 30). Tier changes are
 * committed one at a time at random moments of the drainer's cycle.
 *
 * Ends with `BENCH kick_latency p50_ms=… p99_ms=… samples=…`.
 *
 * @module
 */
import { startTierDrainer } from "../local/drainer.ts";
import { startNetWorker } from "../local/net_worker.ts";
import { upsertVaultSecret } from "../local/vault.ts";
import { createMigratedDatabase, createUsers } from "../../tests/_support/migrated_database.ts";
import { startHttpRecorder } from "../../tests/_support/http_recorder.ts";
import { intSetting } from "./_support.ts";

const SAMPLES = Math.max(1, intSetting("samples", "BENCH_KICK_SAMPLES", 30));

/** The value below which `q` of the sorted `values` lie (nearest rank). */
function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** Runs the benchmark on a scratch database of the cluster behind LOCAL_DB_URL; returns the lines it prints. */
export async function benchKickLatency(): Promise<string[]> {
  const db = await createMigratedDatabase();
  const arrivals = new Map<string, number>();
  const target = startHttpRecorder(({ body }) => {
    const at = performance.now();
    for (const user of JSON.parse(body).user_ids ?? []) arrivals.set(user, at);
    return Response.json({ accepted: true }, { status: 202 });
  });
  const worker = await startNetWorker(db.url);
  const drainer = startTierDrainer(db.url, { intervalMs: 1000 });
  try {
    await upsertVaultSecret(db.sql, "project_url", target.url);
    await upsertVaultSecret(db.sql, "fly_kick_secret", "bench-secret");
    const users = await createUsers(db, SAMPLES);
    const latencies: number[] = [];
    for (const user of users) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000));
      await db.sql`insert into public.user_subscriptions (user_id, tier) values (${user}, 'pro')`;
      const committed = performance.now();
      while (!arrivals.has(user)) await new Promise((resolve) => setTimeout(resolve, 5));
      latencies.push(arrivals.get(user)! - committed);
    }
    const sorted = latencies.toSorted((a, b) => a - b);
    const [p50, p99] = [percentile(sorted, 0.5), percentile(sorted, 0.99)];
    return [
      `kick latency: ${SAMPLES} tier changes committed one at a time at random moments; commit -> provision`,
      `function called, through outbox, drainer every 1000 ms, pg_net stand-in and worker (ms):`,
      `  min ${sorted[0].toFixed(0)}, p50 ${p50.toFixed(0)}, p99 ${p99.toFixed(0)}, max ${
        sorted[sorted.length - 1].toFixed(0)
      }`,
      `BENCH kick_latency p50_ms=${p50.toFixed(0)} p99_ms=${p99.toFixed(0)} samples=${SAMPLES}`,
    ];
  } finally {
    await drainer.stop();
    await worker.stop();
    await target.close();
    await db.drop();
  }
}

if (import.meta.main) {
  if (!Deno.env.get("LOCAL_DB_URL")) {
    console.error("LOCAL_DB_URL is not set: point it at the local cluster (deno task dev prints one)");
    Deno.exit(2);
  }
  for (const line of await benchKickLatency()) console.log(line);
}
