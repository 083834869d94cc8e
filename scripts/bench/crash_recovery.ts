/**
 * Benchmark: how long a user's provision takes to converge after the functions are SIGKILLed in the middle
 * of it, with the default settings (30 s lease renewed by a heartbeat, the health sweep every minute).
 *
 * Usage: `deno task bench crash_recovery` (BENCH_CRASH_TRIALS, default 2).
 *
 * Each trial: a user is upgraded through the tier outbox (the drainer's batch kick reaches the functions);
 * once the reconcile holds the user's lease and has created the app, the functions gateway is SIGKILLed and
 * started again. Nothing re-kicks the user: the lease must expire (its heartbeat died with the process) and
 * a sweep, called every 60 s as pg_cron does (starting at a random phase of the minute), must pick the due
 * row up. The figure is the time from the kill to the row being active, healthy and in sync.
 */
import { startStack } from "../../tests/e2e/_support.ts";
import { waitFor } from "../../tests/_support/wait.ts";
import { intSetting, median, table } from "./_support.ts";

const TRIALS = Math.max(1, intSetting("trials", "BENCH_CRASH_TRIALS", 2));
const CRON_INTERVAL_MS = 60_000;

/** Runs the benchmark; returns the lines it prints. */
export async function benchCrashRecovery(): Promise<string[]> {
  const stack = await startStack({ emulator: { latency: "realistic" } });
  const rows: string[][] = [];
  const seconds: number[] = [];
  try {
    for (let trial = 1; trial <= TRIALS; trial++) {
      const [user] = await stack.newUsers(1);
      await stack.setTier(user, "pro");
      await waitFor("the provision to hold the lease and create the app", async () => {
        const row = await stack.row(user);
        return row?.lease_owner && (await stack.appsOf(user)).length > 0 ? row : undefined;
      }, 30_000);
      const killedAt = await stack.killAndRestartFunctions();
      const phase = Math.random() * CRON_INTERVAL_MS;
      let cronRuns = 0;
      let stopped = false;
      const cron = (async () => {
        await new Promise((resolve) => setTimeout(resolve, phase));
        while (!stopped) {
          cronRuns++;
          await stack.call("check-fly-apps-health", { body: {}, wait: false }).catch(() => {});
          await new Promise((resolve) => setTimeout(resolve, CRON_INTERVAL_MS));
        }
      })();
      const settled = await waitFor(
        "the user to converge after the crash",
        async () => {
          const row = await stack.row(user);
          const done = row?.status === "active" && row.health_status === "healthy" &&
            row.observed_generation >= row.desired_generation && !row.lease_owner;
          return done ? new Date() : undefined;
        },
        400_000,
        250,
      );
      stopped = true;
      const took = (settled.getTime() - killedAt.getTime()) / 1000;
      seconds.push(took);
      const machines = (await stack.appsOf(user))[0].machines.filter((m) => m.state !== "destroyed");
      rows.push([
        String(trial),
        took.toFixed(1),
        (phase / 1000).toFixed(1),
        String(cronRuns),
        String(machines.length),
      ]);
      void cron;
    }
  } finally {
    await stack.stop();
  }
  return [
    `crash recovery: SIGKILL of the functions mid-provision, default lease (30 s, heartbeat every 10 s), ` +
    `sweep every 60 s at a random phase, realistic Fly latencies; ${TRIALS} trial(s)`,
    ...table(["trial", "kill → converged s", "first sweep after s", "sweeps called", "live machines"], rows),
    `Bound: lease expiry (≤ 30 s after the kill) + the next sweep (≤ 60 s) + one provision (a few seconds).`,
    `BENCH crash_recovery trials=${TRIALS} median_s=${median(seconds).toFixed(1)} max_s=${
      Math.max(...seconds).toFixed(1)
    }`,
  ];
}

if (import.meta.main) {
  for (const line of await benchCrashRecovery()) console.log(line);
  Deno.exit(0);
}
