/**
 * End to end through the gateway and the emulator: fleet rollouts driven by the admin API and the
 * controller. 20 paid users on the default image; a plan change by SQL starts nothing; bad input changes
 * nothing; a rollout to a new tag goes canary first, survives a pause, a killed functions process and a
 * re-pushed tag, and leaves every machine on the pinned digest, healthy and in sync; a `-broken` image halts
 * at the canaries with an alert, and a rollback heals them.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { startHttpRecorder } from "../_support/http_recorder.ts";
import { waitFor } from "../_support/wait.ts";
import { admin } from "./admin_support.ts";
import { configOf, liveMachines, type Stack, startStack } from "./_support.ts";

const USERS = 20;
const IMAGE_B = "registry.fly.io/vyx-user-backend:b";
const IMAGE_BROKEN = "registry.fly.io/vyx-user-backend:b-broken";

/** Every user's one live machine (image reference and the digest it runs). */
async function machinesOf(stack: Stack, users: string[]) {
  const result = new Map<string, { id: string; image: string | undefined; digest: string | undefined }>();
  for (const user of users) {
    const apps = await stack.appsOf(user);
    const [machine] = liveMachines(apps[0]);
    result.set(user, { id: machine.id, image: configOf(machine).image, digest: machine.image_ref?.digest });
  }
  return result;
}

/** Polls the rollout until `done` says so (the driver runs in the background after each action). */
async function waitRollout(
  stack: Stack,
  id: string,
  done: (rollout: Record<string, unknown>) => boolean,
  timeoutMs = 60_000,
) {
  return await waitFor(
    `rollout ${id}`,
    async () => {
      const answer = await admin(stack, `/rollouts/${id}`);
      assertEquals(answer.status, 200, JSON.stringify(answer.body));
      return done(answer.body.rollout) && answer.body;
    },
    timeoutMs,
    200,
  );
}

/** How many `machine_updated` events each user got since `since` (event seq). */
async function updatesSince(stack: Stack, since: number): Promise<Map<string, number>> {
  const rows = await stack.sql<{ user_id: string; n: number }[]>`
    select e.user_id, count(*)::int as n from public.user_fly_app_events e
    where e.seq > ${since} and e.event_type = 'machine_updated' group by e.user_id`;
  return new Map(rows.map((row) => [row.user_id, row.n]));
}

async function lastEventSeq(stack: Stack): Promise<number> {
  const [{ seq }] = await stack.sql<{ seq: number }[]>`
    select coalesce(max(seq), 0)::int as seq from public.user_fly_app_events`;
  return seq;
}

Deno.test("rollouts end to end: canary, batches, pause + kill + resume, re-pushed tag, broken image, rollback", async (t) => {
  const alerts = startHttpRecorder();
  // Leases of 10 s (the minimum): the killed driver's rollout is free again 10 s after the kill, not 30. App
  // creates at 10/s (functions and emulator alike): this test is about rollouts, not the app-create limit.
  const stack = await startStack({
    functionEnv: {
      ALERT_WEBHOOK_URL: `${alerts.url}/alerts`,
      RECONCILE_LEASE_SECONDS: "10",
      FLY_APP_CREATE_RATE_PER_S: "10",
      FLY_APP_CREATE_BURST: "10",
    },
  });
  try {
    const users = await stack.newUsers(USERS);
    await Promise.all(users.map((user) => stack.setTier(user, "pro")));
    await Promise.all(users.map((user) => stack.waitSettled(user, 60_000)));
    const before = await machinesOf(stack, users);

    await t.step("a plan change by SQL starts nothing: the status shows drift", async () => {
      await stack.sql`update public.fly_plans set memory_mb = 1024 where tier = 'pro'`;
      try {
        await stack.sweep();
        const [{ n }] = await stack.sql<{ n: number }[]>`select count(*)::int as n from public.fly_rollouts`;
        assertEquals(n, 0);
        const status = await stack.call("provision-user-fly-app", {
          method: "GET",
          query: { user_id: users[0] },
        });
        assertEquals([status.body.in_sync, status.body.drift.guest.desired.memory_mb], [false, 1024]);
        assertEquals(await machinesOf(stack, users), before);
      } finally {
        await stack.sql`update public.fly_plans set memory_mb = 512 where tier = 'pro'`;
      }
      await stack.sweep();
    });

    await t.step("bad input is a 4xx naming the field, and writes nothing", async () => {
      const cases: [Record<string, unknown>, number, string][] = [
        [{ image: IMAGE_B, tier: "platinum" }, 400, "tier"],
        [{ image: IMAGE_B, batch: -1 }, 400, "batch"],
        [{ tier: "pro" }, 400, "image"],
        [{ image: IMAGE_B, canaries: 2 }, 400, "canaries"],
      ];
      for (const [body, status, field] of cases) {
        const answer = await admin(stack, "/rollouts", { method: "POST", body, actor: "alice" });
        assertEquals(answer.status, status, JSON.stringify(answer.body));
        assertEquals(answer.body.error.field, field, JSON.stringify(answer.body));
      }
      assertEquals((await admin(stack, "/rollouts/not-a-uuid")).status, 400);
      assertEquals((await admin(stack, `/rollouts/${crypto.randomUUID()}`)).status, 404);
      const [{ n }] = await stack.sql<{ n: number }[]>`select count(*)::int as n from public.fly_rollouts`;
      assertEquals(n, 0);
    });

    let rolloutB = "";
    await t.step(
      "rollout to B: canary 1, batch 5; pause, kill, re-push, resume; all on the pinned digest",
      async () => {
        const since = await lastEventSeq(stack);
        const created = await admin(stack, "/rollouts", {
          method: "POST",
          body: { image: IMAGE_B, canary: 1, batch: 5, health_timeout_s: 60, reason: "e2e" },
          actor: "alice",
        });
        assertEquals(created.status, 201, JSON.stringify(created.body));
        rolloutB = created.body.rollout.id;
        assertEquals([created.body.rollout.total, created.body.rollout.created_by], [USERS, "claimed:alice"]);

        const second = await admin(stack, "/rollouts", {
          method: "POST",
          body: { image: IMAGE_B, tier: "pro" },
        });
        assertEquals(second.status, 409, JSON.stringify(second.body));
        assert(
          second.body.error.message.includes(`rollout ${rolloutB} (running, all tiers) is already active`),
          second.body.error.message,
        );

        // The canary pins the digest; then pause, and kill the functions with whatever was in flight.
        const pinned = await waitRollout(stack, rolloutB, (r) => Number(r.healthy) >= 2);
        const digest = String(pinned.rollout.image_digest);
        assert(digest.startsWith("sha256:"), digest);
        const paused = await admin(stack, `/rollouts/${rolloutB}/pause`, { method: "POST", actor: "alice" });
        assertEquals([paused.status, paused.body.changed, paused.body.rollout.state], [200, true, "paused"]);
        await stack.killAndRestartFunctions();
        // B is pushed again mid-rollout: the rest must still get the pinned digest.
        const repushed = stack.emulator.pushImage(IMAGE_B);
        assert(repushed !== digest);

        const resumed = await admin(stack, `/rollouts/${rolloutB}/resume`, {
          method: "POST",
          actor: "alice",
        });
        assertEquals([resumed.status, resumed.body.rollout.state], [200, "running"]);
        // The killed driver's lease runs out (10 s here); the sweep, every few seconds here as cron would
        // every minute, drives the rollout on.
        const cron = setInterval(() => {
          stack.call("check-fly-apps-health", { body: {}, wait: false }).catch(() => {});
        }, 3_000);
        const done = await waitRollout(stack, rolloutB, (r) => r.state === "completed", 90_000)
          .finally(() => clearInterval(cron));
        assertEquals([done.rollout.healthy, done.rollout.failed], [USERS, 0]);
        assert(done.events.some((e: { event_type: string }) => e.event_type === "paused"));

        const after = await machinesOf(stack, users);
        for (const user of users) assertEquals(after.get(user)!.digest, digest, user);
        const updates = await updatesSince(stack, since);
        // No machine updated twice. (An update made by the killed worker has no event: events are recorded
        // with the attempt's outcome, which that worker never reached; the resumed rollout then finds the
        // machine already on the digest and updates nothing.)
        for (const user of users) assert((updates.get(user) ?? 0) <= 1, `machine updates of ${user}`);
        const targetEvents = await stack.sql<{ n: number }[]>`
        select count(*)::int as n from public.user_fly_app_events
        where seq > ${since} and event_type = 'rollout_target_healthy'`;
        assertEquals(targetEvents[0].n, USERS);
        const [plan] = await stack.sql<
          { image: string }[]
        >`select image from public.fly_plans where tier = 'pro'`;
        assertEquals(plan.image, `registry.fly.io/vyx-user-backend@${digest}`);

        const report = await stack.sweep();
        assertEquals(report.observed.drifted, 0, JSON.stringify(report.observed));
        for (const user of users) {
          const row = (await stack.row(user))!;
          assertEquals([row.status, row.health_status], ["active", "healthy"], user);
        }
        const status = await stack.call("provision-user-fly-app", {
          method: "GET",
          query: { user_id: users[0] },
        });
        assertEquals([status.body.in_sync, status.body.image_digest], [true, digest]);
      },
    );

    await t.step(
      "a -broken image waits in its gate, then a sweep halts it with an alert; rollback heals it at once",
      async () => {
        const onB = await machinesOf(stack, users);
        const created = await admin(stack, "/rollouts", {
          method: "POST",
          body: { image: IMAGE_BROKEN, canary: 1, batch: 5, health_timeout_s: 12 },
          actor: "bob",
        });
        assertEquals(created.status, 201, JSON.stringify(created.body));
        const id = created.body.rollout.id;
        // The driver kicked by the start applies the canary, looks at its gate for a few seconds and returns.
        const waiting = await waitFor("the canary in its gate", async () => {
          const answer = await admin(stack, `/rollouts/${id}`);
          const target = answer.body.targets.find((t: { label: string }) => t.label.startsWith("gate ("));
          return target && answer.body;
        });
        const [inGate] = waiting.targets;
        assert(/^gate \(\d+ s left; machine started, checks not passing: /.test(inGate.label), inGate.label);
        assertEquals(waiting.lines[0], "batch 0 (canary): 1 in gate");
        // No driver waits on the gate: sweeps look at it once each and halt it when its 12 s are up.
        const cron = setInterval(() => {
          stack.call("check-fly-apps-health", { body: {}, wait: false }).catch(() => {});
        }, 3_000);
        const halted = await waitRollout(stack, id, (r) => r.state === "halted").finally(() =>
          clearInterval(cron)
        );
        assertEquals([halted.rollout.failed, halted.rollout.healthy], [1, 0]);
        assert(
          String(halted.rollout.error).includes("health gate not passed within 12 s"),
          halted.rollout.error,
        );
        const canaries = await stack.sql<{ user_id: string }[]>`
        select user_id from public.fly_rollout_targets where rollout_id = ${id} and batch = 0`;
        const canaryIds = new Set(canaries.map((c) => c.user_id));
        const now = await machinesOf(stack, users);
        for (const user of users.filter((u) => !canaryIds.has(u))) assertEquals(now.get(user), onB.get(user));
        await waitFor(
          "the halt alert",
          () => alerts.requests.some((r) => r.body.includes("rollout_halted") && r.body.includes(id)),
        );

        const canary = [...canaryIds][0];
        const rollbackAt = Date.now();
        const rolledBack = await admin(stack, `/rollouts/${id}/rollback`, { method: "POST", actor: "bob" });
        assertEquals([rolledBack.status, rolledBack.body.rollout.direction], [200, "rollback"]);
        // The rollback starts at once (the driver kicked by the action), not at the next sweep.
        await waitFor(
          "the canary's rollback update",
          async () => (await machinesOf(stack, [canary])).get(canary)!.digest === onB.get(canary)!.digest,
          5_000,
          100,
        );
        assert(Date.now() - rollbackAt < 5_000, `rollback started after ${Date.now() - rollbackAt} ms`);
        await waitRollout(stack, id, (r) => r.state === "rolled_back");
        const healed = await machinesOf(stack, users);
        await stack.sweep();
        for (const user of canaryIds) {
          assertEquals(healed.get(user)!.digest, onB.get(user)!.digest, user);
          const row = (await stack.row(user))!;
          assertEquals([row.status, row.health_status], ["active", "healthy"], user);
        }
        const list = await admin(stack, "/rollouts");
        assertEquals(list.body.rollouts.map((r: { id: string }) => r.id), [id, rolloutB]);
      },
    );
  } finally {
    await stack.stop();
    await alerts.close();
  }
});
