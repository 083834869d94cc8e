/**
 * The ops CLI's `rollout` commands in-process, with a recording stand-in for the admin API: what each asks
 * the API, what it prints (the id, a one-line summary, JSON with the rollout's fields at the top), and the
 * exit codes (usage 2 before any call, an API refusal 1).
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { runCli } from "../../scripts/ops/cli.ts";
import type { FunctionCall, FunctionsCaller } from "../../scripts/ops/client.ts";
import { OperationError } from "../../scripts/ops/errors.ts";

const ID = "cb8547e5-a6b4-49ba-844d-2fcf901e0366";
const USER = "00000000-0000-4000-8000-000000000001";
const ROLLOUT = {
  id: ID,
  tier: null,
  target: { image: "registry.fly.io/app:v2" },
  state: "running",
  direction: "forward",
  total: 20,
  updated: 6,
  healthy: 6,
  failed: 0,
  image_digest: `sha256:${"a".repeat(64)}`,
  canary_count: 1,
  batch_size: 5,
  error: null,
};

/** Answers like the admin API's rollout routes and records the calls. */
function fakeApi(): FunctionsCaller & { calls: FunctionCall[] } {
  const calls: FunctionCall[] = [];
  return {
    calls,
    call(request) {
      calls.push(request);
      if (request.path === "/rollouts" && request.method === "POST") {
        return Promise.resolve({ rollout: ROLLOUT });
      }
      if (request.path === "/rollouts") return Promise.resolve({ rollouts: [ROLLOUT] });
      if (request.path === `/rollouts/${ID}`) {
        return Promise.resolve({
          rollout: ROLLOUT,
          batches: [{ batch: 0, stage: "canary", updating: 1 }, { batch: 1, stage: "10%", pending: 4 }],
          targets: [{
            user_id: USER,
            batch: 0,
            state: "updating",
            attempts: 1,
            gate_started_at: "2026-12-06T19:00:00Z",
            gate_seconds_left: 212,
            fly_app_name: "user-app-1",
            label: "gate (212 s left; machine started, checks not passing: health)",
          }],
          bake: null,
          lines: ["batch 0 (canary): 1 in gate", "batch 1 (10%): 4 pending"],
          events: [],
        });
      }
      if (request.path === "/versions") {
        return Promise.resolve({
          versions: [
            {
              tier: "pro",
              image: "registry.fly.io/app:v1",
              digest: `sha256:${"b".repeat(64)}`,
              rollout_image: null,
              machines: 19,
              running: 19,
            },
            {
              tier: "pro",
              image: "registry.fly.io/app:v2",
              digest: null,
              rollout_image: null,
              machines: 1,
              running: 1,
            },
          ],
          rollout: {
            id: ID,
            state: "running",
            tier: null,
            image: "registry.fly.io/app:v2",
            digest: null,
            direction: "forward",
          },
        });
      }
      if (request.path === `/rollouts/${ID}/pause`) {
        return Promise.reject(new OperationError("HTTP 409: cannot pause a paused rollout", 409, {}));
      }
      return Promise.resolve({ changed: true, rollout: { ...ROLLOUT, direction: "rollback" } });
    },
  };
}

async function run(args: string[], api: FunctionsCaller) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    env: {},
    caller: api,
    output: { out: (text) => out.push(text), err: (text) => err.push(text) },
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("rollout start sends the options as the API names them and prints the id", async () => {
  const api = fakeApi();
  const result = await run(
    [
      "rollout",
      "start",
      "--image",
      "registry.fly.io/app:v2",
      "--tier",
      "pro",
      "--canary",
      "0",
      "--batch",
      "5",
    ],
    api,
  );
  assertEquals([result.code, result.out], [0, ID]);
  assertEquals(api.calls[0].body, {
    image: "registry.fly.io/app:v2",
    tier: "pro",
    canary: 0,
    batch: 5,
  });
});

Deno.test("rollout status: the latest without ID; --json has the rollout's fields at the top", async () => {
  const api = fakeApi();
  const text = await run(["rollout", "status"], api);
  assertEquals(text.code, 0);
  assert(text.out.startsWith(`${ID} running: 6/20 healthy, 0 failed`), text.out);
  assert(text.out.includes("waiting: 1 health gate(s), at most 212 s left"), text.out);
  assert(
    text.out.includes(
      `batch 0 (canary): 1 in gate\n  ${USER} user-app-1: gate (212 s left; machine started, checks not passing: health)\n` +
        "batch 1 (10%): 4 pending",
    ),
    text.out,
  );
  assertEquals(api.calls.map((c) => c.path), ["/rollouts", `/rollouts/${ID}`]);

  const json = JSON.parse((await run(["rollout", "status", ID, "--json"], fakeApi())).out);
  assertEquals(
    [json.id, json.state, json.total, json.updated, json.healthy, json.failed, json.image_digest],
    [ID, "running", 20, 6, 6, 0, ROLLOUT.image_digest],
  );
});

Deno.test("rollout start --stages --users --bake; versions marks the active rollout's image", async () => {
  const api = fakeApi();
  const started = await run(
    [
      "rollout",
      "start",
      "--image",
      "registry.fly.io/app:v2",
      "--stages",
      "1,10,50,100",
      "--users",
      USER,
      "--bake",
      "60",
    ],
    api,
  );
  assertEquals(started.code, 0);
  assertEquals(api.calls[0].body, {
    image: "registry.fly.io/app:v2",
    stages: [1, 10, 50, 100],
    users: [USER],
    bake_s: 60,
  });
  assertEquals((await run(["rollout", "start", "--image", "x", "--stages", "10,50"], api)).code, 2);
  const versions = await run(["versions"], api);
  assertEquals(versions.code, 0);
  const lines = versions.out.split("\n");
  assert(
    lines.some((line) => line.includes("v1") && line.includes("19") && !line.includes("←")),
    versions.out,
  );
  assert(
    lines.some((line) => line.includes("v2") && line.includes("← rollout cb8547e5 (running)")),
    versions.out,
  );
});

Deno.test("rollout actions: a bad id or count is a usage error before any call; a refusal exits 1", async () => {
  const api = fakeApi();
  assertEquals((await run(["rollout", "rollback", "not-an-id"], api)).code, 2);
  assertEquals((await run(["rollout", "start", "--image", "x", "--batch", "-1"], api)).code, 2);
  assertEquals((await run(["rollout", "start"], api)).code, 2);
  assertEquals(api.calls.length, 0);
  const refused = await run(["rollout", "pause", ID], api);
  assertEquals(refused.code, 1);
  assert(refused.err.includes("cannot pause"), refused.err);
  const rolledBack = await run(["rollout", "rollback", ID, "--reason", "bad"], api);
  assertEquals(rolledBack.code, 0);
  assertEquals(api.calls.at(-1)?.body, { reason: "bad" });
});
