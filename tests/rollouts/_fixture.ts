/**
 * The rollout driver against a migrated scratch database, with a fake fleet standing in for the controller's
 * apply: it resolves tags to digests (re-pushable), updates a user's "machine" only when the spec differs
 * (as the controller does), and fails the health gate for `-broken` images and unknown tags (at once, or, with
 * `openGates`, by keeping the gate open with check `health` critical until the driver ends it).
 */
import { loadConfig } from "../../supabase/functions/_shared/config.ts";
import {
  type CreateRolloutRequest,
  type Rollout,
  type RolloutSpec,
  RolloutsRepository,
  type RolloutTarget,
} from "../../supabase/functions/_shared/db/fly_rollouts.ts";
import { createLogger } from "../../supabase/functions/_shared/log.ts";
import {
  advanceRollouts,
  type ApplyOptions,
  GATE_LOOK_MS,
  type RolloutDeps,
  type RolloutProgress,
  type TargetOutcome,
} from "../../supabase/functions/_shared/rollout/driver.ts";
import type { ScratchDatabase } from "../_support/database.ts";
import { type HttpRecorder, startHttpRecorder } from "../_support/http_recorder.ts";
import { createMigratedDatabase, createUsers } from "../_support/migrated_database.ts";
import { applyTierChanges } from "../_support/tier_outbox.ts";

/** The image every user runs before a rollout. */
export const IMAGE_A = "registry.fly.io/backend:a";
/** The image rolled out. */
export const IMAGE_B = "registry.fly.io/backend:b";

/** One user's machine in the fake fleet. */
export interface FakeMachine {
  image: string;
  digest: string;
}

/** A fleet of one machine per user, and a registry of tags. */
export class FakeFleet {
  readonly machines = new Map<string, FakeMachine>();
  /** Config changes per user (a spec already in place changes nothing). */
  readonly updates = new Map<string, number>();
  /** Every apply, in order. */
  readonly applied: { userId: string; spec: RolloutSpec }[] = [];
  readonly #tags = new Map<string, string>();
  #pushes = 0;
  /** Largest number of applies in flight at once. */
  maxInFlight = 0;
  #inFlight = 0;
  /** Called before each apply returns (to pause a rollout mid-way, for instance). */
  onApply?: (userId: string) => Promise<void>;
  /** Outcomes to return instead of the real one, once each, by user. */
  readonly scripted = new Map<string, TargetOutcome>();
  /** A `-broken` image keeps its gate open (check `health` critical) instead of failing at once. */
  openGates = false;
  /** Looks at open gates (applies whose update was already applied). */
  looks = 0;

  /** Pushes `tag` (again): a new digest. */
  push(tag: string): string {
    const digest = `sha256:${(++this.#pushes).toString(16).padStart(64, "0")}`;
    this.#tags.set(tag, digest);
    return digest;
  }

  /** The digest `tag` resolves to now. */
  digestOf(tag: string): string | undefined {
    return this.#tags.get(tag);
  }

  /** The apply the driver calls. */
  apply = async (target: RolloutTarget, spec: RolloutSpec, options: ApplyOptions): Promise<TargetOutcome> => {
    const userId = target.user_id;
    if (options.gateStartedAt !== null) {
      this.looks += 1;
      const digest = this.machines.get(userId)?.digest;
      return { outcome: "gate", imageDigest: digest, machineState: "started", failingChecks: ["health"] };
    }
    this.applied.push({ userId, spec });
    this.#inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2));
      await this.onApply?.(userId);
      const scripted = this.scripted.get(userId);
      if (scripted) {
        this.scripted.delete(userId);
        return scripted;
      }
      const image = spec.image ?? this.machines.get(userId)?.image ?? IMAGE_A;
      const digest = spec.digest ?? this.digestOf(image);
      if (!digest) return { outcome: "failed", error: `failed to get manifest ${image}: MANIFEST_UNKNOWN` };
      const current = this.machines.get(userId);
      if (current?.digest !== digest || current.image !== image) {
        this.machines.set(userId, { image, digest });
        this.updates.set(userId, (this.updates.get(userId) ?? 0) + 1);
      }
      if (image.endsWith("-broken") && this.openGates) {
        return { outcome: "gate", imageDigest: digest, machineState: "started", failingChecks: ["health"] };
      }
      if (image.endsWith("-broken")) {
        return { outcome: "failed", imageDigest: digest, error: "health checks not passing within the gate" };
      }
      return { outcome: "healthy", imageDigest: digest };
    } finally {
      this.#inFlight -= 1;
    }
  };
}

/** What a test gets. */
export interface RolloutFixture {
  db: ScratchDatabase;
  repo: RolloutsRepository;
  fleet: FakeFleet;
  webhook: HttpRecorder;
  deps: RolloutDeps;
  users: string[];
  /** Creates a rollout (actor `ops-test`). */
  create(request: CreateRolloutRequest): Promise<Rollout>;
  /** One driver step with a fresh deadline. */
  advance(owner?: string, budgetMs?: number): Promise<RolloutProgress[]>;
  /** The rollout as stored. */
  get(id: string): Promise<Rollout>;
}

/** Runs `fn` with `paidUsers` pro users, each running {@link IMAGE_A}; everything is torn down afterwards. */
export async function withRollouts(
  paidUsers: number,
  fn: (fixture: RolloutFixture) => Promise<void>,
): Promise<void> {
  const db = await createMigratedDatabase();
  const webhook = startHttpRecorder();
  try {
    const users = await createUsers(db, paidUsers);
    await db
      .sql`insert into public.user_subscriptions (user_id, tier) select unnest(${users}::uuid[]), 'pro'`;
    await applyTierChanges(db.sql);
    const fleet = new FakeFleet();
    const digestA = fleet.push(IMAGE_A);
    fleet.push(IMAGE_B);
    for (const user of users) fleet.machines.set(user, { image: IMAGE_A, digest: digestA });
    await db.sql`update public.user_fly_apps set status = 'active', docker_image = ${IMAGE_A},
      image_digest = ${digestA}, next_attempt_at = null`;
    const config = loadConfig({
      FLY_API_TOKEN: "unused-token",
      FLY_ORG_SLUG: "personal",
      FLY_DEFAULT_REGION: "sin",
      FLY_APP_IMAGE: IMAGE_A,
      PROVISIONER_SECRET: "rollout-test-provisioner-secret",
      KICK_SECRET: "rollout-test-kick-secret-value",
      FLY_APP_NAME_KEY: "rollout-test-app-name-key",
      SUPABASE_URL: "http://127.0.0.1:9",
      SUPABASE_DB_URL: db.url,
      ALERT_WEBHOOK_URL: `${webhook.url}/alerts`,
    });
    const repo = new RolloutsRepository(db.sql);
    const deps: RolloutDeps = {
      config,
      log: createLogger({ level: "error", sink: () => {} }),
      rollouts: repo,
      applyTarget: fleet.apply,
    };
    await fn({
      db,
      repo,
      fleet,
      webhook,
      deps,
      users,
      create: (request) => repo.create(request, "ops-test"),
      advance: (owner = "driver-1", budgetMs = 20_000) =>
        advanceRollouts(deps, { owner, deadline: Date.now() + budgetMs }),
      get: async (id) => {
        const rollout = await repo.get(id);
        if (!rollout) throw new Error(`rollout ${id} is gone`);
        return rollout;
      },
    });
  } finally {
    await webhook.close();
    await db.drop();
  }
}

/** How many applies each user got. */
export function appliesPerUser(fleet: FakeFleet): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { userId } of fleet.applied) counts.set(userId, (counts.get(userId) ?? 0) + 1);
  return counts;
}

/**
 * Drives like an operator's background driver, step after step, until no rollout waits on a gate or a bake
 * (it ended or halted) or `budgetMs` runs out; returns every step's progress.
 */
export async function driveUntilSettled(
  deps: RolloutDeps,
  options: { owner?: string; budgetMs?: number } = {},
): Promise<RolloutProgress[]> {
  const ends = Date.now() + (options.budgetMs ?? 60_000);
  const steps: RolloutProgress[] = [];
  while (Date.now() < ends) {
    const progress = await advanceRollouts(deps, {
      owner: options.owner ?? "driver",
      deadline: ends,
      lookMs: GATE_LOOK_MS.background,
    });
    steps.push(...progress);
    if (!progress.some((step) => step.waiting !== null)) return steps;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return steps;
}
