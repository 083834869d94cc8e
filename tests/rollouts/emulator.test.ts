/**
 * The rollout driver with a real apply against the Machines API emulator: digests pinned from image_ref, a
 * re-pushed tag, `-broken` images failing the health gate and rolled back, an unknown tag refused by Fly.
 */
import { loadConfig } from "../../supabase/functions/_shared/config.ts";
import { RolloutsRepository } from "../../supabase/functions/_shared/db/fly_rollouts.ts";
import { createFlyClient, type FlyClient, type Machine } from "../../supabase/functions/_shared/fly/mod.ts";
import { createLogger } from "../../supabase/functions/_shared/log.ts";
import type { ApplyTarget } from "../../supabase/functions/_shared/rollout/driver.ts";
import { driveUntilSettled } from "./_fixture.ts";
import { type FlyEmulator, startFlyEmulator } from "../../scripts/local/fly-emulator/mod.ts";
import { assert, assertEquals } from "../_support/assert.ts";
import type { ScratchDatabase } from "../_support/database.ts";
import { createMigratedDatabase, createUsers } from "../_support/migrated_database.ts";
import { applyTierChanges } from "../_support/tier_outbox.ts";
import { emulatorApply, FLEET_APP, provisionFleet } from "./emulator_fleet.ts";

const IMAGE_A = "registry.fly.io/backend:a";
const IMAGE_B = "registry.fly.io/backend:b";

interface EmulatorFleet {
  db: ScratchDatabase;
  emulator: FlyEmulator;
  fly: FlyClient;
  repo: RolloutsRepository;
  users: string[];
  updates: Map<string, number>;
  /** Runs before each apply (hooks for mid-rollout events). */
  beforeApply: { hook?: (applied: number) => void };
  /** Every user's machine (one list call). */
  machines(): Promise<Machine[]>;
  advance(): Promise<unknown>;
}

async function withEmulatorFleet(count: number, fn: (fleet: EmulatorFleet) => Promise<void>): Promise<void> {
  const db = await createMigratedDatabase();
  const emulator = await startFlyEmulator({ latency: "fast" });
  try {
    const fly = createFlyClient({ token: emulator.token, baseUrl: emulator.url, retry: { baseDelayMs: 20 } });
    const users = await createUsers(db, count);
    await db
      .sql`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'pro'`;
    await applyTierChanges(db.sql);
    const machineIds = await provisionFleet({ fly, db, orgSlug: emulator.orgSlug, users, image: IMAGE_A });
    const { apply, updates } = emulatorApply(fly, machineIds);
    const beforeApply: EmulatorFleet["beforeApply"] = {};
    let applied = 0;
    const hooked: ApplyTarget = (userId, spec, options) => {
      beforeApply.hook?.(applied++);
      return apply(userId, spec, options);
    };
    const repo = new RolloutsRepository(db.sql);
    const config = loadConfig({
      FLY_API_TOKEN: emulator.token,
      FLY_ORG_SLUG: emulator.orgSlug,
      FLY_API_BASE_URL: emulator.url,
      FLY_DEFAULT_REGION: "sin",
      FLY_APP_IMAGE: IMAGE_A,
      PROVISIONER_SECRET: "rollout-test-provisioner-secret",
      KICK_SECRET: "rollout-test-kick-secret-value",
      FLY_APP_NAME_KEY: "rollout-test-app-name-key",
      SUPABASE_URL: "http://127.0.0.1:9",
      SUPABASE_DB_URL: db.url,
    });
    const deps = { config, log: createLogger({ level: "error" }), rollouts: repo, applyTarget: hooked };
    await fn({
      db,
      emulator,
      fly,
      repo,
      users,
      updates,
      beforeApply,
      machines: async () => {
        const all = new Map((await fly.machines.list(FLEET_APP)).map((m) => [m.id, m]));
        return users.map((user) => all.get(machineIds.get(user)!)!);
      },
      advance: () => driveUntilSettled(deps, { budgetMs: 30_000 }),
    });
  } finally {
    await emulator.close();
    await db.drop();
  }
}

Deno.test("rollout on the emulator: every machine ends on the digest the canary got, though the tag is re-pushed mid-way", async () => {
  await withEmulatorFleet(7, async ({ repo, users, machines, emulator, beforeApply, advance, updates }) => {
    beforeApply.hook = (applied) => {
      if (applied === 2) emulator.pushImage(IMAGE_B);
    };
    const rollout = await repo.create({ target: { image: IMAGE_B }, canary_count: 1, batch_size: 3 }, "ops");
    await advance();
    const done = (await repo.get(rollout.id))!;
    assertEquals([done.state, done.healthy, done.total], ["completed", 7, 7]);
    const fleet = await machines();
    assert(fleet.every((m) => m.image_ref?.digest === done.image_digest), "one digest across the fleet");
    assertEquals(emulator.images()[0].pushes, 1, "the tag was re-pushed during the rollout");
    assert(emulator.images()[0].digest !== done.image_digest, "and its new digest reached no machine");
    assertEquals(fleet.filter((m) => m.config.image === IMAGE_B).length, 1, "the canary by tag");
    assert(fleet.every((m) => m.state === "started" && m.checks?.[0].status === "passing"));
    assert(users.every((user) => updates.get(user) === 1), "one update per machine");
  });
});

Deno.test("rollout on the emulator: -broken canaries fail the gate and halt; the rest keep their version; rollback heals them", async () => {
  await withEmulatorFleet(6, async ({ repo, machines, advance }) => {
    const before = new Map((await machines()).map((m) => [m.id, m]));
    const rollout = await repo.create({
      target: { image: `${IMAGE_B}-broken` },
      canary_count: 2,
      batch_size: 2,
      health_timeout_s: 1,
    }, "ops");
    await advance();
    const halted = (await repo.get(rollout.id))!;
    assertEquals([halted.state, halted.failed], ["halted", 2]);
    assert(halted.error?.includes("health gate not passed within 1 s"), String(halted.error));
    const after = await machines();
    const changed = after.filter((m) => m.version !== before.get(m.id)?.version);
    assertEquals(changed.length, 2, "only the canaries changed");
    assert(changed.every((m) => m.state === "started" && m.checks?.[0].status === "critical"));

    await repo.transition(rollout.id, "rollback", "ops");
    await advance();
    assertEquals((await repo.get(rollout.id))!.state, "rolled_back");
    const healedFleet = await machines();
    for (const canary of changed) {
      const healed = healedFleet.find((m) => m.id === canary.id)!;
      assertEquals(healed.image_ref?.digest, before.get(canary.id)?.image_ref?.digest, "back on A's digest");
      assertEquals([healed.state, healed.checks?.[0].status], ["started", "passing"]);
    }
  });
});

Deno.test("rollout on the emulator: a tag Fly cannot pull halts at the canary with Fly's error; no machine changes", async () => {
  await withEmulatorFleet(4, async ({ repo, machines, emulator, advance }) => {
    emulator.removeImage(IMAGE_B);
    const versions = (await machines()).map((m) => m.version);
    const rollout = await repo.create({ target: { image: IMAGE_B }, batch_size: 2 }, "ops");
    await advance();
    const halted = (await repo.get(rollout.id))!;
    assertEquals(halted.state, "halted");
    assert(halted.error?.includes("failed to get manifest registry.fly.io/backend:b"), String(halted.error));
    assertEquals((await machines()).map((m) => m.version), versions);
  });
});
