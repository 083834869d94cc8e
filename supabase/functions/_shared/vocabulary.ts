/**
 * The project's vocabularies, each written once: the statuses of a user's app row, health values, the event
 * types of a user's audit log, and the states of rollouts and their targets. The SQL check constraints hold
 * the same lists (`tests/layout/vocabulary.test.ts` compares them with the database), the zod schemas and
 * the console import them from here. A leaf module: it imports nothing.
 *
 * @module
 */

/**
 * Statuses of a `user_fly_apps` row. `held`: ops keep the machine stopped (an ops hold, not a lease);
 * `suspended`: a downgrade's grace period (machine stopped, app and volume kept).
 */
export const APP_STATUSES = [
  "pending",
  "provisioning",
  "active",
  "held",
  "suspended",
  "failed",
  "error",
  "deprovisioning",
  "deleted",
] as const;
/** One of {@link APP_STATUSES}. */
export type AppStatus = typeof APP_STATUSES[number];

/** Statuses whose work is still to be done (the summary's `pending`). */
export const IN_FLIGHT_STATUSES = ["pending", "provisioning", "deprovisioning"] as const;

/** Statuses an operator may retry. */
export const RETRYABLE_STATUSES = ["error", "failed", "pending", "provisioning", "deprovisioning"] as const;

/** Whether a user should have an app (`user_fly_apps.desired_state`). */
export const DESIRED_STATES = ["present", "absent"] as const;
/** One of {@link DESIRED_STATES}. */
export type DesiredState = typeof DESIRED_STATES[number];

/**
 * Health of a user's app (`user_fly_apps.health_status`): `healthy` (started, no critical check),
 * `starting`, `unhealthy` (no app or machine, down, a critical check), `unknown` (not judged: a held or
 * suspended app's stopped machine, or never observed), `idle` (stopped or suspended by Fly's proxy on a plan
 * whose `idle_action` allows it: not a failure, the next request wakes it).
 */
export const HEALTH_VALUES = ["healthy", "unhealthy", "starting", "unknown", "idle"] as const;
/** One of {@link HEALTH_VALUES}. */
export type Health = typeof HEALTH_VALUES[number];

/**
 * What Fly's proxy does with a plan's idle machine (`fly_plans.idle_action`): `off` keeps it running, `stop`
 * stops it, `suspend` suspends it (memory snapshot, faster wake); the next request starts it again.
 */
export const IDLE_ACTIONS = ["off", "stop", "suspend"] as const;
/** One of {@link IDLE_ACTIONS}. */
export type IdleAction = typeof IDLE_ACTIONS[number];

/** Fly guest CPU kinds a plan may name. */
export const CPU_KINDS = ["shared", "performance"] as const;

/** States of a rollout (`fly_rollouts.state`). */
export const ROLLOUT_STATES = [
  "pending",
  "running",
  "paused",
  "halted",
  "completed",
  "aborted",
  "rolled_back",
] as const;
/** One of {@link ROLLOUT_STATES}. */
export type RolloutState = typeof ROLLOUT_STATES[number];

/** Rollout states that still move (a driver may advance them, an operator pause, abort or roll back). */
export const ACTIVE_ROLLOUT_STATES = ["pending", "running", "paused", "halted"] as const;

/** Directions of a rollout. */
export const ROLLOUT_DIRECTIONS = ["forward", "rollback"] as const;

/** States of one user's target in a rollout (`fly_rollout_targets.state`). */
export const ROLLOUT_TARGET_STATES = [
  "pending",
  "updating",
  "healthy",
  "failed",
  "skipped",
  "rolling_back",
  "rolled_back",
  "rollback_failed",
] as const;
/** One of {@link ROLLOUT_TARGET_STATES}. */
export type RolloutTargetState = typeof ROLLOUT_TARGET_STATES[number];

/** Target states a driver is applying (claimed, not finished). */
export const IN_FLIGHT_TARGET_STATES = ["updating", "rolling_back"] as const;

/** Target states that end a target, each event `rollout_target_<state>` in the user's log. */
const FINISHED_TARGET_STATES = ["healthy", "failed", "skipped", "rolled_back", "rollback_failed"] as const;

/**
 * Event types of a user's audit log (`user_fly_app_events.event_type`), written by the SQL side (requests,
 * kicks, holds, drift, rollout targets, the seed upgrade) and by the engine, the controller and the admin API.
 */
export const APP_EVENT_TYPES = [
  // desired state and its delivery (SQL)
  "provision_requested",
  "deprovision_requested",
  "retry_requested",
  "kick_failed",
  "drift_detected",
  "hold_set",
  "hold_released",
  "status_migrated",
  "duplicate_row_archived",
  "override_set",
  "override_cleared",
  "state_contradiction",
  // attempts and outcomes (the controller)
  "provision_started",
  "deprovision_started",
  "provision_progressing",
  "deprovision_progressing",
  "provision_completed",
  "provision_failed",
  "deprovision_completed",
  "deprovision_failed",
  "health_changed",
  "alert_raised",
  "repaired",
  // Fly resources (the engine)
  "app_created",
  "app_deleted",
  "app_name_taken",
  "ip_assigned",
  "secrets_set",
  "credential_minted",
  "volume_created",
  "volume_extended",
  "volume_deleted",
  "volume_updated",
  "volume_snapshotted",
  "snapshot_requested",
  "snapshot_failed",
  "volume_restored",
  "volume_restore_unavailable",
  "volume_reverted",
  "volume_kept_expired",
  "restore_requested",
  "host_recovered",
  "machine_created",
  "machine_updated",
  "machine_started",
  "machine_stopped",
  "machine_destroyed",
  "resumed",
  "deprovision_suspended",
  "grace_expired",
  "plan_applied",
  // operator actions (the admin API)
  "restart_requested",
  "restart_failed",
  "machine_restarted",
  "orphan_deleted",
  // rollouts (SQL, one per finished target)
  ...FINISHED_TARGET_STATES.map((state) => `rollout_target_${state}` as const),
] as const;
/** One of {@link APP_EVENT_TYPES}. */
export type AppEventType = typeof APP_EVENT_TYPES[number];
