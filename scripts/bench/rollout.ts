/**
 * Benchmark: a rollout of a new image to N users in batches, on the realistic latency profile, applied by the
 * controller (`controllerApply`: a reconcile of the user's row, then the health gate); wall time against the
 * floor set by the machines' replace time per batch and the API latency.
 *
 * Usage: `deno task bench rollout`, or `LOCAL_DB_URL=postgres://... deno run -A scripts/bench/rollout.ts
 * [--users=N] [--batch=N]` (env BENCH_ROLLOUT_USERS, default 100; BENCH_ROLLOUT_BATCH, default 10; one canary).
 *
 * Setup: a scratch migrated database, the emulator in this process with the realistic profile (30 ms per API
 * call, 2.5 s to replace a running machine), N `pro` users each provisioned by the controller (own app,
 * secrets, one started machine on image A), with the emulator's rate-limit enforcement off and a client
 * without limiter, as `bench sweep` does: creating N apps under the documented limits only measures those
 * limits. The timed part is the driver's steps until the rollout ends, as an operator's start runs them (each
 * step looks at open gates for up to `GATE_LOOK_MS.background`), with the product's client (its limiter keeps
 * the documented limits) and the controller's apply: per target a full reconcile (app, IPs, secrets, machines
 * observed; the update with the full config and `current_version`; wait for `started`) and the health gate.
 *
 * Floor: batches run one after another and the targets of a batch in parallel; the canary goes alone (its
 * success pins the digest), then ceil((N - 1) / batch) batches. A batch cannot take less than one target's
 * critical path: the 2.5 s replace and the 4 calls that must follow each other around it (get, update, wait,
 * get). The reconcile's observation calls (app, IPs, secrets, machine list) come on top and are part of the
 * measured overhead.
 */
import { loadConfig } from "../../supabase/functions/_shared/config.ts";
import { RolloutsRepository } from "../../supabase/functions/_shared/db/fly_rollouts.ts";

import { createFlyClient } from "../../supabase/functions/_shared/fly/mod.ts";
import { createLogger } from "../../supabase/functions/_shared/log.ts";
import { mapBounded } from "../../supabase/functions/_shared/bounded.ts";
import type { EngineDeps } from "../../supabase/functions/_shared/engine/context.ts";
import { reconcileUser } from "../../supabase/functions/_shared/controller/controller.ts";
import {
  advanceRollouts,
  GATE_LOOK_MS,
  type RolloutProgress,
} from "../../supabase/functions/_shared/rollout/driver.ts";
import { rolloutDeps } from "../../supabase/functions/_shared/rollout/apply.ts";
import { REALISTIC_LATENCY, startFlyEmulator } from "../local/fly-emulator/mod.ts";
import { createMigratedDatabase } from "../../tests/_support/migrated_database.ts";
import { countsSince, createPaidUsers, intSetting, table, totalAnswers } from "./_support.ts";
import { createRepositories } from "../../supabase/functions/_shared/db/repositories.ts";

const USERS = Math.max(2, intSetting("users", "BENCH_ROLLOUT_USERS", 100));
const BATCH = Math.max(1, intSetting("batch", "BENCH_ROLLOUT_BATCH", 10));
const CANARIES = 1;
const IMAGE_A = "registry.fly.io/user-backend:a";
const IMAGE_B = "registry.fly.io/user-backend:b";

const db = await createMigratedDatabase();
const emulator = await startFlyEmulator({ latency: "realistic", rateLimits: false });
try {
  const config = loadConfig({
    FLY_API_TOKEN: emulator.token,
    FLY_ORG_SLUG: emulator.orgSlug,
    FLY_API_BASE_URL: emulator.url,
    FLY_DEFAULT_REGION: "sin",
    FLY_APP_IMAGE: IMAGE_A,
    PROVISIONER_SECRET: "rollout-bench-provisioner-secret",
    KICK_SECRET: "rollout-bench-kick-secret-value",
    FLY_APP_NAME_KEY: "rollout-bench-app-name-key",
    SUPABASE_URL: "http://127.0.0.1:9",
    SUPABASE_DB_URL: db.url,
  });
  const log = createLogger({ level: "error" });
  const repo = createRepositories(db.sql);
  const setupDeps: EngineDeps = {
    config,
    log,
    repo,
    fly: createFlyClient({ token: emulator.token, baseUrl: emulator.url, rateLimit: false }),
  };
  const users = await createPaidUsers(db, USERS);
  const started = performance.now();
  await mapBounded(users, 32, async (userId) => {
    const result = await reconcileUser(setupDeps, {
      userId,
      owner: `bench-setup:${userId}`,
      deadline: Date.now() + 120_000,
      reason: "bench",
    });
    if (result.outcome !== "converged") throw new Error(`setup of ${userId}: ${result.outcome}`);
  });
  console.log(`setup: ${USERS} users provisioned in ${Math.round(performance.now() - started)} ms`);

  const deps: EngineDeps = {
    config,
    log,
    repo,
    fly: createFlyClient({ token: emulator.token, baseUrl: emulator.url }),
  };
  const rollouts = new RolloutsRepository(db.sql);

  const before = emulator.requestCounts();
  const t0 = performance.now();
  const rollout = await rollouts.create(
    { target: { image: IMAGE_B }, canary_count: CANARIES, batch_size: BATCH, reason: "bench" },
    "bench",
  );
  // As an operator's start drives it: step after step, each looking at the open gates for a few seconds.
  let progress: RolloutProgress | undefined;
  do {
    [progress] = await advanceRollouts(rolloutDeps(deps, rollouts), {
      owner: "bench",
      deadline: Date.now() + 600_000,
      lookMs: GATE_LOOK_MS.background,
    });
  } while (progress?.state === "running");
  const wallMs = performance.now() - t0;
  const done = await rollouts.get(rollout.id);
  const calls = countsSince(before, emulator.requestCounts());

  const batches = 1 + Math.ceil((USERS - CANARIES) / BATCH);
  const perTargetMs = REALISTIC_LATENCY.replaceMs + 4 * REALISTIC_LATENCY.requestMs;
  const floorMs = batches * perTargetMs;
  const updated = totalAnswers(
    { Machines_update: calls.Machines_update ?? {} },
    (code) => code.startsWith("2"),
  );
  console.log(
    table(["figure", "value"], [
      ["users / batch size / canaries", `${USERS} / ${BATCH} / ${CANARIES}`],
      ["rollout state", `${progress?.state} (healthy ${done?.healthy}, failed ${done?.failed})`],
      ["machine updates sent", updated],
      ["batches (canary alone, then batches)", batches],
      ["floor: batches x (replace + 4 calls)", `${floorMs} ms`],
      ["wall time", `${Math.round(wallMs)} ms`],
      ["ratio wall / floor", (wallMs / floorMs).toFixed(2)],
      ["API calls (429s)", `${totalAnswers(calls)} (${totalAnswers(calls, (code) => code === "429")})`],
    ]).join("\n"),
  );
  console.log(
    `BENCH rollout users=${USERS} batch=${BATCH} wall_ms=${Math.round(wallMs)} floor_ms=${floorMs} ` +
      `ratio=${(wallMs / floorMs).toFixed(2)} state=${progress?.state} updates=${updated}`,
  );
} finally {
  await emulator.close();
  await db.drop();
}
