/**
 * The model of the property test: what the product promises for a sequence of steps, kept next to the real
 * stack (the world). Steps (`steps.ts`) update the model the way the product's rules say and act on the
 * world; once the sequence has settled, {@link checkInvariants} compares the two.
 *
 * @module
 */
import type { Stack } from "../e2e/_support.ts";

/** The tiers the test moves users between. */
export type Tier = "free" | "pro" | "elite";
/** Paid tiers (their plans have an app). */
export type PaidTier = "pro" | "elite";

/** A machine size. */
export interface Size {
  cpu_kind: "shared" | "performance";
  cpus: number;
  memory_mb: number;
}

/** An ops override: any of size, region and image. */
export interface OverrideFields extends Partial<Size> {
  region?: string;
  image?: string;
}

/** What the product promises, as the steps changed it. */
export interface Model {
  /** The users of this sequence. */
  users: string[];
  /** Each user's tier; null: no subscription (free); absent: never set. */
  tier: Map<string, Tier | null>;
  /** Users whose account was deleted (no subscription, no further changes). */
  deleted: Set<string>;
  /**
   * Every size each paid plan had during the sequence, the current one last. A plan edit is drift until a
   * rollout applies it, so a machine may run any of them; with one entry, exactly that one.
   */
  planSizes: Record<PaidTier, Size[]>;
  /** Each user's ops override. */
  override: Map<string, OverrideFields>;
  /** Users on an ops hold. */
  held: Set<string>;
  /** The tier outbox's drainer is stalled (its lock held by the test). */
  drainerStalled: boolean;
  /** The fleet rollouts the sequence started (oldest first); how each ended is read when it settles. */
  rollouts: ModelRollout[];
  /**
   * The image every paid plan has once the sequence's rollouts ended (null: none, the default image); set
   * by {@link resolveRollouts}. A completed rollout writes its pinned `image@digest`; a rolled-back one
   * restores what the plans had when it was created.
   */
  planImage: string | null;
  /** The content fingerprints each user's machines wrote to their volumes (see `data_steps.ts`). */
  written: Map<string, Set<string>>;
  /** Writes so far in the sequence (numbers the fingerprints). */
  writes: number;
  /** Hosts the sequence marked dead; settling brings them back once recoveries had their chance. */
  deadHosts: Set<string>;
  /** Users with a volume on a host that died: a recovery without a snapshot may leave them `error`. */
  hostLost: Set<string>;
  /**
   * Users whose region an override set or cleared: with a volume elsewhere, the move is refused (the data
   * would not follow), which leaves them `error`.
   */
  regionChanged: Set<string>;
}

/** What an image's tag makes it do on the emulator: boot healthy, never pass its checks, or never boot. */
export type ImageKind = "good" | "broken" | "crash";

/** A fleet rollout (all tiers) the sequence started. */
export interface ModelRollout {
  id: string;
  image: string;
  kind: ImageKind;
  /** An operator asked for its rollback (accepted): it must end `rolled_back`. */
  rollbackRequested: boolean;
}

/** The real side: the stack, and what the sequence did to it that the settling must undo. */
export interface World {
  stack: Stack;
  /** When the functions were killed (leases taken before then die with the process). */
  kills: Date[];
  /** The configured default image (`FLY_APP_IMAGE`). */
  defaultImage: string;
  /** Lets a stalled drainer go again (set while it is stalled); settling calls it. */
  resumeDrainer?: () => Promise<void>;
}

/**
 * The plans' sizes at the start of every sequence: pro as shipped, elite bigger (as the issue's second
 * sequence has it), so that a tier change must change the machine.
 */
export const START_PLAN_SIZES: Record<PaidTier, Size> = {
  pro: { cpu_kind: "shared", cpus: 2, memory_mb: 512 },
  elite: { cpu_kind: "performance", cpus: 1, memory_mb: 2048 },
};
/**
 * The volume the elite plan has in every sequence (pro has none), so tier changes create and delete volumes,
 * and the data steps have something to write, snapshot, restore and lose a host under. Daily automatic
 * snapshots are on (the clock step takes them), kept 5 days.
 */
export const ELITE_VOLUME = {
  volume_size_gb: 1,
  volume_mount_path: "/data",
  volume_snapshot_retention_days: 5,
  volume_auto_backup: true,
} as const;
/** Seconds a lost host is waited out before its users are recovered (the default is 600). */
export const HOST_RECOVERY_AFTER_S = 2;
/** The default plans' region. */
export const DEFAULT_REGION = "sin";

/** A fresh model for `users`. */
export function newModel(users: string[]): Model {
  return {
    users,
    tier: new Map(),
    deleted: new Set(),
    planSizes: { pro: [START_PLAN_SIZES.pro], elite: [START_PLAN_SIZES.elite] },
    override: new Map(),
    held: new Set(),
    drainerStalled: false,
    rollouts: [],
    planImage: null,
    written: new Map(),
    writes: 0,
    deadHosts: new Set(),
    hostLost: new Set(),
    regionChanged: new Set(),
  };
}

/** Whether the user's tier gets an app. */
export function isPaid(model: Model, user: string): boolean {
  const tier = model.tier.get(user);
  return tier === "pro" || tier === "elite";
}

/**
 * Follows the sequence's rollouts, once all of them ended, to the image the plans must have: each one ended
 * completed or rolled back as the system decided (faults may halt a good one), within what the product
 * promises, which this returns as violations: a `-broken` or `-crash` image never completes, and a rollback
 * that was accepted ends `rolled_back`.
 */
export async function resolveRollouts(model: Model, world: World): Promise<string[]> {
  const out: string[] = [];
  let image: string | null = null;
  for (const rollout of model.rollouts) {
    const [row] = await world.stack.sql<{ state: string; pinned_image: string | null }[]>`
      select state, pinned_image from public.fly_rollouts where id = ${rollout.id}`;
    const what = `rollout ${rollout.image} (${rollout.id})`;
    if (row.state === "completed") {
      if (rollout.kind !== "good") out.push(`${what} completed`);
      if (rollout.rollbackRequested) out.push(`${what} completed after its rollback was accepted`);
      image = row.pinned_image ?? rollout.image;
    } else if (row.state !== "rolled_back") {
      out.push(`${what} ended ${row.state}`);
    }
  }
  model.planImage = image;
  return out;
}
