/**
 * An engine wired to a migrated scratch database and an in-process Machines API emulator, for tests that
 * drive the reconcile engine and the sweep directly (no gateway in between).
 */
import { loadConfig } from "../../supabase/functions/_shared/config.ts";
import type { UserFlyApp } from "../../supabase/functions/_shared/db/user_fly_apps.ts";
import { createFlyClient } from "../../supabase/functions/_shared/fly/mod.ts";
import { createLogger } from "../../supabase/functions/_shared/log.ts";
import type { EngineDeps } from "../../supabase/functions/_shared/engine/context.ts";
import {
  type ControllerResult,
  reconcileUser,
} from "../../supabase/functions/_shared/controller/controller.ts";
import {
  type FlyEmulator,
  type FlyEmulatorOptions,
  startFlyEmulator,
} from "../../scripts/local/fly-emulator/mod.ts";
import type { ScratchDatabase } from "./database.ts";
import { createMigratedDatabase, createUsers } from "./migrated_database.ts";
import { applyTierChanges } from "./tier_outbox.ts";
import { createRepositories } from "../../supabase/functions/_shared/db/repositories.ts";

/** The value of the secret every user app receives in these tests. */
export const APP_SECRET_VALUE = "sk-test-engine-secret-value-31337";

/** What a test gets. */
export interface EngineFixture {
  db: ScratchDatabase;
  emulator: FlyEmulator;
  deps: EngineDeps;
  logs: string[];
  /** Replaces the engine's configuration with the base test environment plus `env`. */
  reconfigure(env: Record<string, string>): void;
  /** Creates users on the given tier (the trigger records their desired state). */
  subscribe(tier: "free" | "pro" | "elite", count?: number): Promise<string[]>;
  /** Changes a user's tier. */
  setTier(userId: string, tier: "free" | "pro" | "elite"): Promise<void>;
  /** Runs one reconcile of the user with a fresh lease owner. */
  reconcile(userId: string, budgetMs?: number): Promise<ControllerResult>;
  /** The user's row. */
  row(userId: string): Promise<UserFlyApp>;
  /** Event types of the user, oldest first. */
  eventTypes(userId: string): Promise<string[]>;
}

/** Runs `fn` with a fresh fixture; everything is torn down afterwards. */
export async function withEngine(
  fn: (fixture: EngineFixture) => Promise<void>,
  options: { env?: Record<string, string>; emulator?: FlyEmulatorOptions } = {},
): Promise<void> {
  const db = await createMigratedDatabase();
  const emulator = await startFlyEmulator({ latency: "fast", ...options.emulator });
  const logs: string[] = [];
  try {
    const baseEnv = {
      FLY_API_TOKEN: emulator.token,
      FLY_ORG_SLUG: emulator.orgSlug,
      FLY_API_BASE_URL: emulator.url,
      FLY_DEFAULT_REGION: "sin",
      FLY_APP_IMAGE: "registry.example.com/user-backend:1",
      PROVISIONER_SECRET: "engine-test-provisioner-secret",
      KICK_SECRET: "engine-test-kick-secret-value",
      FLY_APP_NAME_KEY: "engine-test-app-name-key",
      SUPABASE_URL: "http://127.0.0.1:9",
      SUPABASE_DB_URL: db.url,
      FLY_APP_SECRETS: "OPENAI_API_KEY",
      OPENAI_API_KEY: APP_SECRET_VALUE,
      SWEEP_MIN_CHECK_AGE_S: "0",
      ...options.env,
    };
    const config = loadConfig(baseEnv);
    const deps: EngineDeps = {
      config,
      fly: createFlyClient({
        token: config.fly.apiToken,
        baseUrl: config.fly.apiBaseUrl,
        retry: { baseDelayMs: 20 },
      }),
      repo: createRepositories(db.sql),
      log: createLogger({ level: "debug", sink: (line) => logs.push(line) }),
    };
    const fixture: EngineFixture = {
      db,
      emulator,
      deps,
      logs,
      reconfigure(env) {
        deps.config = loadConfig({ ...baseEnv, ...env });
      },
      async subscribe(tier, count = 1) {
        const ids = await createUsers(db, count);
        await db
          .sql`insert into public.user_subscriptions (user_id, tier) select unnest(${ids}::uuid[]), ${tier}`;
        await applyTierChanges(db.sql);
        return ids;
      },
      async setTier(userId, tier) {
        await db.sql`update public.user_subscriptions set tier = ${tier} where user_id = ${userId}`;
        await applyTierChanges(db.sql);
      },
      reconcile: (userId, budgetMs = 20_000) =>
        reconcileUser(deps, {
          userId,
          owner: `test:${crypto.randomUUID()}`,
          deadline: Date.now() + budgetMs,
          reason: "test",
        }),
      async row(userId) {
        const [row] = await db
          .sql`select to_jsonb(a) as row from public.user_fly_apps a where user_id = ${userId}`;
        return row.row as UserFlyApp;
      },
      async eventTypes(userId) {
        const rows = await db.sql<{ event_type: string }[]>`
          select event_type from public.user_fly_app_events where user_id = ${userId} order by seq`;
        return rows.map((r) => r.event_type);
      },
    };
    await fn(fixture);
  } finally {
    await emulator.close();
    await db.drop();
  }
}
