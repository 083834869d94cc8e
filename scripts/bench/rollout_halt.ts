/**
 * Benchmark: a rollout of a `-broken` image on the local stack with the default settings (300 s health gate,
 * one canary, a sweep every 60 s): how long until it halts on its own, how many machines it touched, whether
 * the alert went out, and what the broken canary's open gate costs every sweep; then a rollback: how soon it
 * starts and whether the canary is back on its previous digest.
 *
 * Usage: `deno task bench rollout_halt`, or `LOCAL_DB_URL=postgres://... deno run -A
 * scripts/bench/rollout_halt.ts [--users=N]` (env BENCH_ROLLOUT_HALT_USERS, default 50: a sweep then takes
 * about a second, so a few tens of ms of noise do not decide the ratio). It takes about thirteen minutes:
 * six sweeps before the rollout, then the default 300 s gate.
 *
 * Setup: the functions behind the local gateway (as `deno task dev` runs them) over a scratch database, the
 * emulator with the realistic profile (30 ms per call, 2.5 s to replace a machine), an alert webhook recorder,
 * N `pro` users provisioned through `provision-user-fly-app` (eight at a time). Sweeps are called as pg_cron
 * calls them, every 60 s on the minute (`check-fly-apps-health?wait=true`, so the report carries its
 * duration); a warm-up sweep first, then five without a rollout (the baseline). Then `POST /fly-apps-admin/rollouts` with the
 * broken image and no other option, and sweeps every 60 s until the rollout is halted.
 *
 * Figures: `halt_s` from the start request to the halt; `touched` machines whose version changed; `alert`
 * webhook posts of `fly_rollout_alert`; `sweep_ratio` = median duration of every sweep while the canary sat in
 * its gate (`gate_ms`) / median of the five without a rollout (`baseline_ms`), same run; `rollout_phase_ms`
 * the sweep's rollout phase alone in those sweeps (it judges the gate from the look the sweep's detail check
 * took of the canary in the same run: no Get Machine of its own);
 * `rollback_start_s` from the rollback request until the canary's
 * machine got its rollback update; `rollback_s` until the rollout is `rolled_back`.
 */
import { createPaidUsers, intSetting, median, startBenchStack, table } from "./_support.ts";
import { startHttpRecorder } from "../../tests/_support/http_recorder.ts";
import { mapBounded } from "../../supabase/functions/_shared/bounded.ts";

const USERS = Math.max(2, intSetting("users", "BENCH_ROLLOUT_HALT_USERS", 50));
const BASELINE_SWEEPS = 5;
const SWEEP_EVERY_MS = 60_000;
const BROKEN = "registry.fly.io/vyx-user-backend:v3-broken";

const webhook = startHttpRecorder();
const stack = await startBenchStack({
  emulator: { latency: "realistic" },
  functionEnv: { ALERT_WEBHOOK_URL: `${webhook.url}/alerts` },
});
const sleepUntil = (at: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

/** Calls the admin API as the ops CLI does. */
async function admin(path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${stack.services.gatewayUrl}/functions/v1/fly-apps-admin${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${stack.services.provisionerSecret}`,
      "content-type": "application/json",
      "x-actor": "bench",
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

/** Every user's machine: version and digest, from the emulator's state. */
function machines(): Map<string, { version: string; digest: string | undefined; state: string }> {
  const all = new Map();
  for (const app of stack.emulator.state().apps) {
    for (const machine of app.machines) {
      if (machine.state === "destroyed") continue;
      all.set(machine.id, {
        version: machine.version,
        digest: machine.image_ref?.digest,
        state: machine.state,
      });
    }
  }
  return all;
}

try {
  const users = await createPaidUsers(stack.db, USERS);
  const setupStarted = Date.now();
  await mapBounded(users, 8, async (user) => {
    await stack.callWait("provision-user-fly-app", { user_id: user, reason: "bench" });
  });
  console.log(`setup: ${USERS} users provisioned in ${Date.now() - setupStarted} ms`);

  const rolloutPhaseMs: number[] = [];
  const sweep = async () => {
    const report = await stack.callWait("check-fly-apps-health", {});
    rolloutPhaseMs.push(Number((report.rollouts as { ms?: number }).ms ?? 0));
    return Number(report.duration_ms);
  };
  let next = Date.now();
  const tick = async () => {
    await sleepUntil(next);
    next += SWEEP_EVERY_MS;
    return await sweep();
  };
  await tick(); // warm-up: the first detail checks of the new machines
  const baseline: number[] = [];
  for (let i = 0; i < BASELINE_SWEEPS; i++) baseline.push(await tick());

  const before = machines();
  await sleepUntil(next - SWEEP_EVERY_MS / 2);
  const started = Date.now();
  const { rollout } = await admin("/rollouts", {
    image: BROKEN,
    reason: "bench: broken image, defaults",
  }) as {
    rollout: { id: string };
  };
  const state = async () =>
    (await stack.db.sql<{ state: string }[]>`select state from public.fly_rollouts where id = ${rollout.id}`)[
      0
    ]
      .state;
  const during: number[] = [];
  const phaseFrom = rolloutPhaseMs.length;
  let haltedAt: number | null = null;
  while (Date.now() - started < 900_000) {
    const ms = await tick();
    if ((await state()) === "halted") {
      haltedAt = Date.now();
      break;
    }
    during.push(ms);
  }
  const gatePhaseMs = median(rolloutPhaseMs.slice(phaseFrom, phaseFrom + during.length));
  const after = machines();
  const touched = [...after].filter(([id, m]) => before.get(id)?.version !== m.version);
  const alerts = webhook.requests.filter((r) => JSON.parse(r.body).type === "fly_rollout_alert").length;

  // Rollback: the canary back on its previous digest.
  const canary = touched[0]?.[0];
  const rollbackAt = Date.now();
  await admin(`/rollouts/${rollout.id}/rollback`, { reason: "bench" });
  let rollbackStartS = NaN;
  let rollbackS = NaN;
  while (Date.now() - rollbackAt < 120_000) {
    const now = machines().get(canary);
    if (Number.isNaN(rollbackStartS) && now && now.version !== after.get(canary)?.version) {
      rollbackStartS = (Date.now() - rollbackAt) / 1000;
    }
    if ((await state()) === "rolled_back") {
      rollbackS = (Date.now() - rollbackAt) / 1000;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const restored = canary !== undefined && machines().get(canary)?.digest === before.get(canary)?.digest;

  const haltS = haltedAt === null ? NaN : (haltedAt - started) / 1000;
  const sweepRatio = median(during) / median(baseline);
  console.log(
    table(["figure", "value"], [
      ["users", USERS],
      ["halted after (default gate 300 s, sweep every 60 s)", `${haltS.toFixed(1)} s`],
      ["machines touched", touched.length],
      ["rollout alerts", alerts],
      ["sweep ms without a rollout (after warm-up)", baseline.join(", ")],
      ["sweep ms with the canary in its gate", during.join(", ")],
      ["median without / with", `${median(baseline)} / ${median(during)} ms`],
      ["median ratio", sweepRatio.toFixed(2)],
      ["the rollout phase's own time in those sweeps (median)", `${gatePhaseMs} ms`],
      ["rollback: canary updated after", `${rollbackStartS.toFixed(1)} s`],
      ["rollback: rolled_back after", `${rollbackS.toFixed(1)} s`],
      ["canary back on its previous digest", String(restored)],
    ]).join("\n"),
  );
  console.log(
    `BENCH rollout_halt halt_s=${haltS.toFixed(1)} touched=${touched.length} sweep_ratio=${
      sweepRatio.toFixed(2)
    } ` +
      `alerts=${alerts} baseline_ms=${median(baseline)} gate_ms=${
        median(during)
      } rollout_phase_ms=${gatePhaseMs} ` +
      `rollback_start_s=${rollbackStartS.toFixed(1)} rollback_s=${
        rollbackS.toFixed(1)
      } digest_restored=${restored}`,
  );
} finally {
  await stack.stop();
  await webhook.close();
}
