/**
 * Typed access to fleet rollouts through the private SQL API of migrations `20261206000500_rollouts.sql` and
 * `20261206002000_rollout_gates_stages.sql` (`private.create_fly_rollout`, `transition_fly_rollout`,
 * `lease_fly_rollouts`, `claim_fly_rollout_targets`, `record_fly_rollout_target`, `pin_fly_rollout_digest`,
 * `fly_rollout_bake`, `fly_rollout_status`, `save_fly_rollout_cohort`, `fly_fleet_versions`,
 * `fly_rollout_spec_for_user`). Every row that comes back is parsed with zod.
 *
 * @module
 */
import { z } from "zod";
import type postgres from "postgres";
import type { Sql } from "./client.ts";
import {
  CPU_KINDS,
  IN_FLIGHT_TARGET_STATES,
  ROLLOUT_DIRECTIONS,
  ROLLOUT_STATES,
  ROLLOUT_TARGET_STATES,
} from "../vocabulary.ts";

/** What a rollout changes, over each user's plan. */
export const RolloutSpecSchema = z.looseObject({
  image: z.string().optional(),
  /** `sha256:…`: the image is applied as `image@digest`. */
  digest: z.string().optional(),
  region: z.string().optional(),
  cpu_kind: z.enum(CPU_KINDS).optional(),
  cpus: z.number().int().optional(),
  memory_mb: z.number().int().optional(),
  env: z.record(z.string(), z.string()).optional(),
  checks: z.record(z.string(), z.unknown()).optional(),
});

/** A spec to apply to one user's machine (target or previous). */
export type RolloutSpec = z.infer<typeof RolloutSpecSchema>;

/** One `public.fly_rollouts` row (without its lease columns). */
export const RolloutSchema = z.looseObject({
  id: z.string(),
  tier: z.string().nullable(),
  target: RolloutSpecSchema,
  canary_count: z.number().int(),
  batch_size: z.number().int(),
  max_unavailable: z.coerce.number().nullable(),
  health_timeout_s: z.number().int(),
  max_failures: z.number().int(),
  /** Whether idle machines are started for the health gate (`fly_rollouts.wake`; absent: false). */
  wake: z.boolean().optional(),
  /** Whether users with an image override are rolled out too (`fly_rollouts.include_overridden`). */
  include_overridden: z.boolean().optional(),
  state: z.enum(ROLLOUT_STATES),
  direction: z.enum(ROLLOUT_DIRECTIONS),
  total: z.number().int(),
  updated: z.number().int(),
  healthy: z.number().int(),
  failed: z.number().int(),
  rolled_back: z.number().int(),
  rollback_failed: z.number().int(),
  canaries_failed: z.number().int(),
  canaries_open: z.number().int(),
  skipped: z.number().int(),
  stages: z.array(z.number().int()).nullable(),
  cohort: z.string().nullable(),
  bake_s: z.number().int(),
  baked_batch: z.number().int(),
  bake_started_at: z.string().nullable(),
  image_digest: z.string().nullable(),
  created_by: z.string(),
  reason: z.string().nullable(),
  error: z.string().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  updated_at: z.string(),
});

/** A rollout. */
export type Rollout = z.infer<typeof RolloutSchema>;

/** The facts of a target's app the driver decides on (see `skipReason` in `rollout/apply.ts`). */
export const TargetAppSchema = z.looseObject({
  fly_app_name: z.string().nullable(),
  machine_id: z.string().nullable(),
  held_at: z.string().nullable(),
  status: z.string(),
});

/** See {@link TargetAppSchema}. */
export type TargetApp = z.infer<typeof TargetAppSchema>;

/** A target claimed for an update (forward) or a rollback. */
export const RolloutTargetSchema = z.object({
  user_id: z.string(),
  batch: z.number().int(),
  state: z.enum(IN_FLIGHT_TARGET_STATES),
  attempts: z.number().int(),
  previous: RolloutSpecSchema,
  /** When its update was applied (its gate started); null: not applied yet. */
  gate_started_at: z.coerce.date().nullable(),
  /** The user's app (null: no row). */
  app: TargetAppSchema.nullable(),
});

/** A claimed target. */
export type RolloutTarget = z.infer<typeof RolloutTargetSchema>;

/** The request of {@link RolloutsRepository.create} (validated by SQL: 22023 naming the field). */
export interface CreateRolloutRequest {
  target: RolloutSpec;
  /** One tier; omitted or null: every tier with a dedicated app. */
  tier?: string | null;
  canary_count?: number;
  batch_size?: number;
  /** Fraction of the targets per batch, instead of `batch_size` (default 0.33 when neither is given). */
  max_unavailable?: number;
  health_timeout_s?: number;
  max_failures?: number;
  /** Percentages of the scope's users, increasing, ending at 100. */
  stages?: number[];
  /** Users (ids) who go first, before the first stage. */
  users?: string[];
  /** A saved cohort whose users go first. */
  cohort?: string;
  /** Seconds a finished batch's machines are watched before the next batch starts. */
  bake_s?: number;
  reason?: string;
  /** Start at once (default true). */
  start?: boolean;
  /** Start idle machines to run the health gate on them (default false: they get the config, stay down). */
  wake?: boolean;
  /** Roll out users with an image override too (default false: they are skipped). */
  include_overridden?: boolean;
}

/** Actions of {@link RolloutsRepository.transition}. */
export type RolloutAction = "start" | "pause" | "resume" | "abort" | "halt" | "rollback" | "complete";

/** The outcome of applying a spec to one target, or of a look at its gate. */
export interface TargetOutcomeRecord {
  userId: string;
  outcome: "healthy" | "failed" | "progressing" | "gate" | "skipped";
  imageDigest?: string | null;
  error?: string | null;
  /** `gate`: when the update was applied (epoch ms; the first recorded stays). */
  gateStartedAt?: number;
  machineState?: string;
  failingChecks?: string[];
  /** `skipped`: why; `healthy`: `held` (config applied to a stopped machine, no gate). */
  skipReason?: string;
}

/** A machine a bake saw failing. */
export const BakeMachineSchema = z.object({
  user_id: z.string(),
  fly_app_name: z.string().nullable(),
  machine_id: z.string().nullable(),
  why: z.string(),
});

/** What `private.fly_rollout_bake` says about the batches finished since the last bake. */
export const BakeSchema = z.discriminatedUnion("state", [
  z.object({ state: z.literal("none") }),
  z.object({ state: z.literal("passed"), batch: z.number().int() }),
  z.object({
    state: z.literal("baking"),
    batch: z.number().int(),
    seconds_left: z.number(),
    machines: z.array(BakeMachineSchema),
  }),
  z.object({ state: z.literal("failed"), batch: z.number().int(), machines: z.array(BakeMachineSchema) }),
]);

/** See {@link BakeSchema}. */
export type Bake = z.infer<typeof BakeSchema>;

/** Machines per tier and image digest, and the active rollout's target. */
export const FleetVersionsSchema = z.object({
  versions: z.array(z.object({
    tier: z.string(),
    image: z.string().nullable(),
    digest: z.string().nullable(),
    rollout_image: z.string().nullable(),
    machines: z.number().int(),
    running: z.number().int(),
  })),
  rollout: z.object({
    id: z.string(),
    state: z.enum(ROLLOUT_STATES),
    tier: z.string().nullable(),
    image: z.string().nullable(),
    digest: z.string().nullable(),
    direction: z.enum(ROLLOUT_DIRECTIONS),
  }).nullable(),
});

/** See {@link FleetVersionsSchema}. */
export type FleetVersions = z.infer<typeof FleetVersionsSchema>;

/** A saved cohort. */
export const CohortSchema = z.object({
  name: z.string(),
  user_ids: z.array(z.string()),
  created_by: z.string(),
  updated_at: z.string(),
});

/** See {@link CohortSchema}. */
export type Cohort = z.infer<typeof CohortSchema>;

/** What the controller should apply to a user an active rollout covers. */
export const UserRolloutSpecSchema = z.object({
  rollout_id: z.string(),
  state: z.enum(ROLLOUT_STATES),
  direction: z.enum(ROLLOUT_DIRECTIONS),
  target_state: z.string(),
  /** The rollout's image wins over the user's image override (else the override wins and the user is skipped). */
  include_overridden: z.boolean().optional(),
  /**
   * The spec is the user's previous one (a rollback): its image reference is applied as recorded and held to
   * its digest, not pinned to it.
   */
  restores_previous: z.boolean().optional(),
  spec: RolloutSpecSchema,
});

/** See {@link UserRolloutSpecSchema}. */
export type UserRolloutSpec = z.infer<typeof UserRolloutSpecSchema>;

/** One target as status shows it (in flight, failed, skipped or applied without a gate). */
export const TargetStatusSchema = z.object({
  user_id: z.string(),
  batch: z.number().int(),
  stage: z.string().optional(),
  state: z.enum(ROLLOUT_TARGET_STATES),
  attempts: z.number().int(),
  gate_started_at: z.string().optional(),
  gate_seconds_left: z.number().int().optional(),
  machine_state: z.string().optional(),
  failing_checks: z.array(z.string()).optional(),
  skip_reason: z.string().optional(),
  error: z.string().optional(),
  fly_app_name: z.string().optional(),
  machine_id: z.string().optional(),
  updated_at: z.string(),
});

/** See {@link TargetStatusSchema}. */
export type TargetStatus = z.infer<typeof TargetStatusSchema>;

/** What ops see of a rollout: the row, its targets' states per batch, the targets worth a line, its events. */
export const RolloutStatusSchema = z.object({
  rollout: RolloutSchema,
  batches: z.array(z.looseObject({ batch: z.number().int(), stage: z.string().nullable().optional() })),
  targets: z.array(TargetStatusSchema),
  bake: z.object({ batch: z.number().int(), started_at: z.string(), seconds_left: z.number().int() })
    .nullable(),
  events: z.array(z.looseObject({
    seq: z.number().int(),
    event_type: z.string(),
    actor: z.string(),
    from_state: z.string().nullable(),
    to_state: z.string().nullable(),
    reason: z.string().nullable(),
    created_at: z.string(),
  })),
});

/** See {@link RolloutStatusSchema}. */
export type RolloutStatus = z.infer<typeof RolloutStatusSchema>;

const TransitionSchema = z.object({ changed: z.boolean(), rollout: RolloutSchema });

/** How an HTTP route answers a database error of the rollout API. */
export interface RolloutErrorAnswer {
  status: 400 | 404 | 409;
  code: "invalid_request" | "not_found" | "conflict" | "invalid_state";
  message: string;
  /** For invalid input: the request field named at the start of the message (`batch_size`, `target.image`). */
  field?: string;
}

/**
 * Maps the SQL API's documented errors to an HTTP answer (null for any other error): 22023 bad input (400,
 * message names the field), P0002 unknown rollout (404), 23505 another active rollout in scope (409), 55000 an
 * action the state does not allow (409).
 */
export function rolloutErrorAnswer(error: unknown): RolloutErrorAnswer | null {
  if (!(error instanceof Error) || !("code" in error)) return null;
  const message = error.message;
  switch ((error as { code?: string }).code) {
    case "22023": {
      const field = /^([a-z_]+(?:\.[a-z_]+)?):/.exec(message)?.[1];
      return { status: 400, code: "invalid_request", message, ...(field ? { field } : {}) };
    }
    case "P0002":
      return { status: 404, code: "not_found", message };
    case "23505":
      return { status: 409, code: "conflict", message };
    case "55000":
      return { status: 409, code: "invalid_state", message };
    default:
      return null;
  }
}

/** Whether the error says another driver holds the rollout (stop driving it). */
export function isRolloutLeaseLost(error: unknown): boolean {
  return error instanceof Error && (error as { code?: string }).code === "55000" &&
    error.message.startsWith("lease_not_held");
}

/** Access to rollouts. */
export class RolloutsRepository {
  readonly #sql: Sql;

  /** Wraps a postgres.js client connected as the database owner (SUPABASE_DB_URL). */
  constructor(sql: Sql) {
    this.#sql = sql;
  }

  #json(value: object) {
    return this.#sql.json(value as unknown as postgres.JSONValue);
  }

  /** Creates (and by default starts) a rollout; `actor` is who asked (recorded). */
  async create(request: CreateRolloutRequest, actor: string): Promise<Rollout> {
    // The switches are set in the same transaction (create_fly_rollout refuses fields it does not know).
    const { wake, include_overridden, ...rest } = request;
    return await this.#sql.begin(async (tx) => {
      const [{ rollout }] = await tx<{ rollout: { id: string } }[]>`
        select private.create_fly_rollout(${this.#json(rest)}, ${actor}) as rollout`;
      const switches = { wake: wake ?? false, include_overridden: include_overridden ?? false };
      if (!switches.wake && !switches.include_overridden) return RolloutSchema.parse(rollout);
      await tx`update public.fly_rollouts set ${tx(switches)} where id = ${rollout.id}::uuid`;
      return RolloutSchema.parse({ ...rollout, ...switches });
    });
  }

  /** Applies an action; `changed` is false when the rollout already was in the resulting state. */
  async transition(
    rolloutId: string,
    action: RolloutAction,
    actor: string,
    details: { reason?: string; error?: string } = {},
  ): Promise<{ changed: boolean; rollout: Rollout }> {
    const [{ result }] = await this.#sql<{ result: unknown }[]>`
      select private.transition_fly_rollout(${rolloutId}::uuid, ${action}, ${actor}, ${
      details.reason ?? null
    },
        ${details.error ?? null}) as result`;
    return TransitionSchema.parse(result);
  }

  /** One rollout, or null. */
  async get(rolloutId: string): Promise<Rollout | null> {
    const rows = await this.#sql<{ rollout: unknown }[]>`
      select to_jsonb(r) - 'lease_owner' - 'lease_expires_at' as rollout
      from public.fly_rollouts r where r.id = ${rolloutId}::uuid`;
    return rows.length ? RolloutSchema.parse(rows[0].rollout) : null;
  }

  /** The most recent rollouts, newest first. */
  async recent(limit: number): Promise<Rollout[]> {
    const rows = await this.#sql<{ rollout: unknown }[]>`
      select to_jsonb(r) - 'lease_owner' - 'lease_expires_at' as rollout
      from public.fly_rollouts r order by r.created_at desc, r.id limit ${limit}`;
    return rows.map((row) => RolloutSchema.parse(row.rollout));
  }

  /** A rollout's status (the latest rollout when `rolloutId` is omitted), or null when there is none. */
  async status(rolloutId?: string, events = 50): Promise<RolloutStatus | null> {
    const [{ status }] = await this.#sql<{ status: unknown }[]>`
      select private.fly_rollout_status(${rolloutId ?? null}::uuid, ${events}) as status`;
    return status === null ? null : RolloutStatusSchema.parse(status);
  }

  /** Leases every running rollout no other driver holds (renewing ours) for `leaseSeconds`. */
  async leaseRunning(owner: string, leaseSeconds: number): Promise<Rollout[]> {
    const rows = await this.#sql<{ rollout: unknown }[]>`
      select private.lease_fly_rollouts(${owner}, ${leaseSeconds}) as rollout`;
    return rows.map((row) => RolloutSchema.parse(row.rollout));
  }

  /** Releases the driver lease if `owner` holds it. */
  async release(rolloutId: string, owner: string): Promise<void> {
    await this.#sql`select private.release_fly_rollout(${rolloutId}::uuid, ${owner})`;
  }

  /** Up to `limit` targets of the current batch (in-flight ones first), marked in flight. */
  async claimTargets(rolloutId: string, owner: string, limit: number): Promise<RolloutTarget[]> {
    const rows = await this.#sql<Record<string, unknown>[]>`
      select * from private.claim_fly_rollout_targets(${rolloutId}::uuid, ${owner}, ${limit})`;
    return rows.map((row) => RolloutTargetSchema.parse(row));
  }

  /**
   * Adopts the scope's users whose machine was created during the rollout (no target, or skipped as not
   * provisioned) as pending targets of a last batch (`private.adopt_late_fly_rollout_targets`); returns how many.
   */
  async adoptLateTargets(rolloutId: string, owner: string): Promise<number> {
    const [{ adopted }] = await this.#sql<{ adopted: number }[]>`
      select private.adopt_late_fly_rollout_targets(${rolloutId}::uuid, ${owner}) as adopted`;
    return adopted;
  }

  /** Records a target's outcome; returns the rollout with its counters. */
  async recordTarget(rolloutId: string, owner: string, record: TargetOutcomeRecord): Promise<Rollout> {
    const details = {
      ...(record.gateStartedAt !== undefined
        ? { gate_started_at: new Date(record.gateStartedAt).toISOString() }
        : {}),
      ...(record.machineState ? { machine_state: record.machineState } : {}),
      ...(record.failingChecks ? { failing_checks: record.failingChecks } : {}),
      ...(record.skipReason ? { skip_reason: record.skipReason } : {}),
    };
    const [{ rollout }] = await this.#sql<{ rollout: unknown }[]>`
      select private.record_fly_rollout_target(${rolloutId}::uuid, ${owner}, ${record.userId}::uuid,
        ${record.outcome}, ${record.imageDigest ?? null}, ${record.error ?? null}, ${this.#json(details)})
        as rollout`;
    return RolloutSchema.parse(rollout);
  }

  /** For the lease holder: whether the batches finished since the last bake may be followed (see {@link Bake}). */
  async bake(rolloutId: string, owner: string): Promise<Bake> {
    const [{ bake }] = await this.#sql<{ bake: unknown }[]>`
      select private.fly_rollout_bake(${rolloutId}::uuid, ${owner}) as bake`;
    return BakeSchema.parse(bake);
  }

  /** Saves (or replaces) a named cohort; `actor` is who saved it. */
  async saveCohort(name: string, userIds: string[], actor: string): Promise<Cohort> {
    const [{ cohort }] = await this.#sql<{ cohort: unknown }[]>`
      select private.save_fly_rollout_cohort(${name}, ${userIds}::uuid[], ${actor}) as cohort`;
    return CohortSchema.parse(cohort);
  }

  /** Every saved cohort, by name. */
  async cohorts(): Promise<Cohort[]> {
    const rows = await this.#sql<{ cohort: unknown }[]>`
      select to_jsonb(c) as cohort from public.fly_rollout_cohorts c order by c.name`;
    return rows.map((row) => CohortSchema.parse(row.cohort));
  }

  /** Machines per tier and image digest, and the active rollout's target. */
  async fleetVersions(): Promise<FleetVersions> {
    const [{ versions }] = await this.#sql<{ versions: unknown }[]>`
      select private.fly_fleet_versions() as versions`;
    return FleetVersionsSchema.parse(versions);
  }

  /**
   * Pins the image digest unless one is pinned already, with `pinnedImage` (the target image pinned to it,
   * what a completed rollout writes into the plans); returns the pinned digest.
   */
  async pinDigest(rolloutId: string, digest: string, pinnedImage: string): Promise<string> {
    const [{ pinned }] = await this.#sql<{ pinned: string }[]>`
      select private.pin_fly_rollout_digest(${rolloutId}::uuid, ${digest}, ${pinnedImage}) as pinned`;
    return pinned;
  }

  /** What an active rollout says `userId` should run now, or null when none covers the user. */
  async specForUser(userId: string): Promise<UserRolloutSpec | null> {
    const [{ spec }] = await this.#sql<{ spec: unknown }[]>`
      select private.fly_rollout_spec_for_user(${userId}::uuid) as spec`;
    return spec === null ? null : UserRolloutSpecSchema.parse(spec);
  }
}
