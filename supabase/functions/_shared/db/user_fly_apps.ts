/**
 * The user app rows' typed models: the row, the ONE patch whitelist, the desired spec, claims, events,
 * observations and fleet states, each a zod schema. The repositories (`repositories.ts`, one per concept)
 * parse every row that comes back with these, so a schema drift fails loudly there instead of deep in the
 * engine.
 *
 * @module
 */
import { z } from "zod";
import { UserRolloutSpecSchema } from "./fly_rollouts.ts";
import { APP_STATUSES, type AppEventType, CPU_KINDS, HEALTH_VALUES, IDLE_ACTIONS } from "../vocabulary.ts";

/** Timestamps arrive as ISO strings inside jsonb. */
const timestamp = z.string().nullable();

/** One `public.user_fly_apps` row (the columns the controller uses; others are tolerated). */
export const UserFlyAppSchema = z.looseObject({
  id: z.string(),
  user_id: z.string(),
  fly_app_name: z.string().nullable(),
  fly_org_slug: z.string().nullable(),
  status: z.string(),
  region: z.string().nullable(),
  docker_image: z.string().nullable(),
  image_digest: z.string().nullable(),
  machine_id: z.string().nullable(),
  health_status: z.string().nullable(),
  last_health_check_at: timestamp,
  retry_count: z.number().int(),
  error_message: z.string().nullable(),
  desired_state: z.enum(["present", "absent"]),
  desired_generation: z.coerce.number().int(),
  observed_generation: z.coerce.number().int(),
  next_attempt_at: timestamp,
  lease_owner: z.string().nullable(),
  lease_expires_at: timestamp,
  lease_released_at: timestamp.optional(),
  lease_released_by: z.string().nullable().optional(),
  secrets_version: z.coerce.number().int().nullable(),
  secrets_digest: z.string().nullable(),
  deployed_at: timestamp,
  deleted_at: timestamp,
  drift: z.record(z.string(), z.unknown()),
  in_sync: z.boolean(),
  last_machine_state: z.string().nullable(),
  last_observed_at: timestamp,
  held_at: timestamp,
  delete_after: timestamp.optional(),
  volume_id: z.string().nullable().optional(),
  credential_expires_at: timestamp.optional(),
  credential_key_id: z.string().nullable().optional(),
  credential_jti: z.string().nullable().optional(),
  /** The tier, plan version and override version the machine was last converged to (null: none/unknown). */
  applied_tier: z.string().nullable().optional(),
  applied_plan_version: z.coerce.number().int().nullable().optional(),
  applied_override_version: z.coerce.number().int().nullable().optional(),
});

/** A user app row. */
export type UserFlyApp = z.infer<typeof UserFlyAppSchema>;

/**
 * The columns an outcome or an observation may set, and their types: the ONE whitelist, mirrored by
 * `private.user_fly_app_patch_columns()` (a test asserts both list the same keys). JSON null clears a column.
 */
export const UserFlyAppPatchSchema = z.strictObject({
  status: z.enum(APP_STATUSES),
  fly_app_name: z.string().nullable(),
  fly_org_slug: z.string().nullable(),
  region: z.string().nullable(),
  docker_image: z.string().nullable(),
  cpu_kind: z.string().nullable(),
  cpu_count: z.number().int().nullable(),
  memory_mb: z.number().int().nullable(),
  machine_id: z.string().nullable(),
  image_digest: z.string().nullable(),
  secrets_version: z.number().int().nullable(),
  secrets_digest: z.string().nullable(),
  deployed_at: timestamp,
  deleted_at: timestamp,
  health_status: z.enum(HEALTH_VALUES),
  last_health_check_at: timestamp,
  monthly_cost_estimate_usd: z.number().nullable(),
  error_message: z.string().nullable(),
  retry_count: z.number().int().min(0),
  next_attempt_at: timestamp,
  observed_generation: z.number().int().min(0),
  drift: z.record(z.string(), z.unknown()),
  last_machine_state: z.string().nullable(),
  last_observed_at: timestamp,
  delete_after: timestamp,
  volume_id: z.string().nullable(),
  credential_expires_at: timestamp,
  credential_key_id: z.string().nullable(),
  credential_jti: z.string().nullable(),
  applied_tier: z.string().nullable(),
  applied_plan_version: z.number().int().nullable(),
  applied_override_version: z.number().int().nullable(),
}).partial();

/** Columns an outcome or observation sets (validated by {@link UserFlyAppPatchSchema}). */
export type UserFlyAppPatch = z.infer<typeof UserFlyAppPatchSchema>;

/** The plan of a tier that gets a dedicated app. */
export const PlanSchema = z.looseObject({
  tier: z.string(),
  region: z.string(),
  cpu_kind: z.enum(CPU_KINDS),
  cpus: z.number().int().positive(),
  memory_mb: z.number().int().positive(),
  image: z.string().nullable(),
  public_services: z.boolean(),
  monthly_cost_estimate_usd: z.coerce.number().nullable(),
  /** Persistent volume of the tier's machine (both set or both null; checked by the table). */
  volume_size_gb: z.number().int().positive().nullable().optional(),
  volume_mount_path: z.string().startsWith("/").nullable().optional(),
  /** Grace of a downgrade TO this tier, in seconds (null: the configured default). */
  deprovision_grace_seconds: z.number().int().min(0).nullable().optional(),
  /** What Fly's proxy does with the idle machine (`fly_plans.idle_action`; absent: `off`). */
  idle_action: z.enum(IDLE_ACTIONS).optional(),
  /** `fly_plans.plan_version`: bumped by every edit of the plan. */
  plan_version: z.coerce.number().int().optional(),
  /**
   * Set by a rollback only (never stored): the digest `image` must run. A tag that resolves to it now stays a
   * tag; one pushed again meanwhile is pinned to it (`image@digest`).
   */
  image_digest: z.string().optional(),
});

/** A dedicated-app plan. */
export type Plan = z.infer<typeof PlanSchema>;

/**
 * A per-user ops override of the plan (`private.user_fly_app_override`): any of size, region and image, with
 * who set it, why and when.
 */
export const OverrideSchema = z.looseObject({
  version: z.coerce.number().int(),
  cpu_kind: z.enum(CPU_KINDS).optional(),
  cpus: z.number().int().positive().optional(),
  memory_mb: z.number().int().positive().optional(),
  region: z.string().optional(),
  image: z.string().optional(),
});

/** A per-user ops override. */
export type Override = z.infer<typeof OverrideSchema>;

/**
 * What a user should have under the row's recorded desired generation (`private.get_desired_spec`): the
 * drainer records a tier change before any reconcile acts on it.
 */
export const DesiredSpecSchema = z.discriminatedUnion("desired_state", [
  z.looseObject({
    user_id: z.string(),
    tier: z.string().nullable(),
    desired_state: z.literal("present"),
    desired_generation: z.number().int().nullable(),
    plan: PlanSchema,
    /** What an active rollout says the user runs now (null or absent: none covers the user). */
    rollout: UserRolloutSpecSchema.nullable().optional(),
    /** The user's ops override (null or absent: none). */
    override: OverrideSchema.nullable().optional(),
  }),
  z.looseObject({
    user_id: z.string(),
    tier: z.string().nullable(),
    desired_state: z.literal("absent"),
    desired_generation: z.number().int().nullable(),
    /** Grace before the app is deleted, from the recorded tier's plan (null: the configured default). */
    deprovision_grace_seconds: z.number().int().min(0).nullable().optional(),
  }),
]);

/** The desired spec of one user. */
export type DesiredSpec = z.infer<typeof DesiredSpecSchema>;

/** Result of claiming one user's row. */
export type ClaimResult =
  | { status: "claimed"; app: UserFlyApp }
  | { status: "leased"; app: UserFlyApp }
  | { status: "not_found" };

/** Parses a claim's jsonb answer. */
export const ClaimResultSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("claimed"), app: UserFlyAppSchema }),
  z.object({ status: z.literal("leased"), app: UserFlyAppSchema }),
  z.object({ status: z.literal("not_found") }).loose(),
]);

/** One audit event to append with an outcome. */
export interface AppEvent {
  event_type: AppEventType;
  status?: "info" | "ok" | "warning" | "error";
  metadata?: Record<string, unknown>;
  error_details?: string;
}

/** One observation of a row: its patch, events, and (for a leased row) whether to release the lease. */
export interface Observation {
  id: string;
  patch: UserFlyAppPatch;
  events?: AppEvent[];
  /** For rows the caller leases: release after writing (default true). */
  release?: boolean;
}

/** One app as the fleet listing saw it. */
export interface FleetState {
  app_name: string;
  /** State of the machine the row should have (or the best one), `missing` when the app has none of ours. */
  state: string;
  machine_id: string | null;
  /** Live machines of ours in the app. */
  live_machines: number;
  observed_at: string;
}

/** A row written by {@link UserFlyAppsRepository.recordFleetStates}, with the state it had before. */
export const FleetRowSchema = z.object({
  id: z.string(),
  user_id: z.string(),
  fly_app_name: z.string(),
  status: z.string(),
  desired_state: z.string(),
  machine_id: z.string().nullable(),
  health_status: z.string().nullable(),
  held_at: z.coerce.string().nullable(),
  previous_state: z.string().nullable(),
  state: z.string(),
  live_machines: z.number().int(),
  observed_machine_id: z.string().nullable(),
});

/** A row of the fleet listing's write, with its previous machine state. */
export type FleetRow = z.infer<typeof FleetRowSchema>;
