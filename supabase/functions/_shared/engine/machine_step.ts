/**
 * Steps 4 and 5: exactly one machine of ours in the app, with the desired config, started.
 *
 * Machines are found by their metadata (`managed_by`, `user_id`), never by guesswork. A missing machine is
 * created with a random create token in its metadata, so that after an ambiguous failure (timeout, 5xx,
 * dropped response) a list by that token finds a silent success before anything is created again. Config
 * drift is fixed by an update with the full config and `current_version`; a machine in the wrong region is
 * replaced (region is immutable); extra machines of ours are destroyed, except one kept with a volume kept for
 * a revert (a host recovery's old machine, see {@link EnsureMachineOptions.keptVolumes}).
 *
 * @module
 */
import {
  FlyApiError,
  FlyNetworkError,
  FlyNotFoundError,
  FlyPreconditionFailedError,
  type Machine,
  type MachineConfig,
} from "../fly/mod.ts";
import type { Plan } from "../db/user_fly_apps.ts";
import { pause, type ReconcileContext, remainingMs } from "./context.ts";
import { DeadlineExceededError, MachineDownError, RetryLaterError } from "./failure.ts";
import {
  configDrift,
  desiredMachineConfig,
  machineIdentity,
  updatedConfig,
  type VolumeMount,
} from "./machine_spec.ts";
import { BOOTING_STATES, DOWN_STATES, GONE_STATES } from "./health.ts";
import { preferredMachine } from "./observe.ts";
import type { SecretsState } from "./secrets_step.ts";
import { BACKOFF, pollUntil, retryWhile } from "../backoff.ts";
import { endStartFailureRecovery, isHostError, noteHostStartFailure } from "./host_recovery.ts";
import { pinnedImage } from "../image_ref.ts";
/**
 * Longest single server-side wait (the API allows 60 s). Shorter, so a machine that ends `failed` instead of
 * `started` is noticed within this time rather than after a full minute.
 */
const WAIT_CHUNK_SECONDS = 15;

/** True for a failure after which the server may have done the work (so a create may exist). */
function ambiguous(error: unknown): boolean {
  if (error instanceof FlyNetworkError) return error.mayHaveReachedServer;
  return error instanceof FlyApiError && (error.status >= 500 || error.status === 408);
}

/**
 * Repeats `call` while Fly refuses it with 412 for a transient reason (`machine still active` right after a
 * stop, `getting replaced` right after an update, a secrets version not yet visible), within the budget.
 */
function retryRaces<T>(ctx: ReconcileContext, what: string, call: () => Promise<T>): Promise<T> {
  return retryWhile(call, {
    policy: BACKOFF.flyRace,
    retryable: (error) => {
      // A lost host does not come back within a reconcile (host_recovery.ts takes it from there).
      if (!(error instanceof FlyPreconditionFailedError) || isHostError(error)) return false;
      ctx.log.debug("fly refused a call for now; retrying", { what, error: error.message });
      return true;
    },
    wait: (ms) => pause(ctx, ms, what),
  });
}

/** Lists the app's live machines that belong to this user. */
export async function ourMachines(ctx: ReconcileContext, appName: string): Promise<Machine[]> {
  const machines = await ctx.fly.machines.list(appName, { metadata: machineIdentity(ctx.row.user_id) });
  return machines.filter((m) => !GONE_STATES.has(m.state));
}

/** After an ambiguous create, looks (a few times: lists are eventually consistent) for the token. */
async function findByCreateToken(
  ctx: ReconcileContext,
  appName: string,
  token: string,
): Promise<Machine | undefined> {
  const { value } = await pollUntil({
    policy: BACKOFF.createTokenLookup,
    maxAttempts: 3,
    attempt: async () => (await ctx.fly.machines.list(appName, { metadata: { create_token: token } }))[0],
    settled: (found) => found !== undefined,
    wait: (ms) => pause(ctx, ms, "a silently created machine to show up"),
  });
  return value;
}

/** Creates the machine; after an ambiguous failure, returns the silent success if there is one. */
async function createMachine(
  ctx: ReconcileContext,
  appName: string,
  plan: Plan,
  secrets: SecretsState,
  volume: VolumeMount | null,
): Promise<Machine> {
  const createToken = crypto.randomUUID();
  const config = desiredMachineConfig({
    userId: ctx.row.user_id,
    plan,
    image: plan.image ?? ctx.config.fly.appImage,
    createToken,
    volume,
    held: ctx.row.held_at !== null,
  });
  const request = { config, region: plan.region, min_secrets_version: secrets.version ?? undefined };
  try {
    const machine = await retryRaces(ctx, "machine create", () => ctx.fly.machines.create(appName, request));
    ctx.events.push({
      event_type: "machine_created",
      status: "ok",
      metadata: { app_name: appName, machine_id: machine.id, region: machine.region },
    });
    return machine;
  } catch (error) {
    if (!ambiguous(error)) throw error;
    const found = await findByCreateToken(ctx, appName, createToken);
    if (!found) throw error;
    ctx.events.push({
      event_type: "machine_created",
      status: "ok",
      metadata: {
        app_name: appName,
        machine_id: found.id,
        region: found.region,
        recovered_after: (error as Error).message,
      },
    });
    return found;
  }
}

/** Destroys a machine of ours (forced; a 404 means it is gone already). */
export async function destroyMachine(
  ctx: ReconcileContext,
  appName: string,
  machine: Pick<Machine, "id" | "region">,
  reason: string,
) {
  try {
    await ctx.fly.machines.delete(appName, machine.id, { force: true });
  } catch (error) {
    if (!(error instanceof FlyNotFoundError)) throw error;
  }
  ctx.events.push({
    event_type: "machine_destroyed",
    status: "info",
    metadata: { app_name: appName, machine_id: machine.id, region: machine.region, reason },
  });
}

/** Options of {@link ensureMachine}. */
export interface EnsureMachineOptions {
  /** The volume to mount (from `ensureVolume`); absent or null: none. */
  volume?: VolumeMount | null;
  /** The user's live machines, when the caller listed them already ({@link ourMachines}). */
  machines?: Machine[];
  /**
   * Volumes a host recovery kept with their machine (`EnsuredVolume.kept`). A machine mounting one is kept
   * too, untouched: the old machine stays on its dead host's volume (Fly does not move a machine to another
   * host), and a new machine is created on the new volume.
   */
  keptVolumes?: ReadonlySet<string>;
}

/** True when `machine` mounts one of `volumeIds`. */
function mountsOneOf(machine: Machine, volumeIds: ReadonlySet<string>): boolean {
  return (machine.config.mounts ?? []).some((mount) => volumeIds.has(mount.volume ?? ""));
}

/** Sends the full-config update of `machine` to `desired` (guarded by its version) and records it. */
async function updateMachine(
  ctx: ReconcileContext,
  appName: string,
  machine: Machine,
  change: { plan: Plan; desired: MachineConfig; secrets: SecretsState; drift: string[] },
): Promise<Machine> {
  const request = {
    config: updatedConfig(machine, change.desired),
    region: change.plan.region,
    min_secrets_version: change.secrets.version ?? undefined,
    current_version: machine.version,
  };
  const updated = await retryRaces(
    ctx,
    "machine update",
    () => ctx.fly.machines.update(appName, machine.id, request),
  );
  ctx.events.push({
    event_type: "machine_updated",
    status: "ok",
    metadata: {
      app_name: appName,
      machine_id: machine.id,
      drift: change.drift,
      secrets_changed: change.secrets.changed,
    },
  });
  return updated;
}

/**
 * Ensures exactly one machine of ours with the desired config in the plan's region; returns it. The plan's
 * image and size are taken as given: the caller decides them (`machineTarget`), so that only rollouts change
 * a running machine's image and size.
 */
export async function ensureMachine(
  ctx: ReconcileContext,
  appName: string,
  plan: Plan,
  secrets: SecretsState,
  options: EnsureMachineOptions = {},
): Promise<Machine> {
  const volume = options.volume ?? null;
  const kept = options.keptVolumes ?? new Set<string>();
  const machines = (options.machines ?? await ourMachines(ctx, appName))
    .filter((machine) => !mountsOneOf(machine, kept));
  const inRegion = machines.filter((m) => m.region === plan.region);
  // The machine already on the user's volume first (a revert after a host recovery goes back to it).
  const onVolume = volume ? inRegion.filter((m) => mountsOneOf(m, new Set([volume.volumeId]))) : [];
  const keeper = preferredMachine(onVolume.length > 0 ? onVolume : inRegion);
  let machine: Machine;
  if (!keeper) {
    machine = await createMachine(ctx, appName, plan, secrets, volume);
  } else {
    machine = keeper;
    const desired = desiredMachineConfig({
      userId: ctx.row.user_id,
      plan,
      image: plan.image ?? ctx.config.fly.appImage,
      createToken: "",
      volume,
      held: ctx.row.held_at !== null,
    });
    const drift = configDrift(keeper.config, desired, {
      observedDigest: keeper.image_ref?.digest,
      desiredDigest: plan.image_digest,
    });
    if (drift.length > 0 || secrets.changed) {
      machine = await updateMachine(ctx, appName, keeper, { plan, desired, secrets, drift });
      if (plan.image_digest && desired.image && machine.image_ref?.digest !== plan.image_digest) {
        // The tag resolves elsewhere now (pushed again): hold the machine to the digest it must run.
        const pinned = { ...desired, image: pinnedImage(desired.image, plan.image_digest) };
        machine = await updateMachine(ctx, appName, machine, {
          plan,
          desired: pinned,
          secrets,
          drift: ["image"],
        });
      }
    }
  }
  for (const extra of machines.filter((m) => m.id !== machine.id)) {
    await destroyMachine(ctx, appName, extra, extra.region === plan.region ? "duplicate" : "region_changed");
  }
  return machine;
}

/**
 * Starts the machine if needed and waits, within the budget, until it is `started`; returns it then. A
 * machine that fails again after this run started it is left for the next attempt (backoff, then alert).
 * A start Fly refuses with the host error leads to a host recovery (host_recovery.ts); a successful start
 * ends one that such refusals had recorded.
 */
export async function ensureStarted(
  ctx: ReconcileContext,
  appName: string,
  machine: Machine,
): Promise<Machine> {
  let current = machine;
  let startedByUs = false;
  while (current.state !== "started") {
    if (GONE_STATES.has(current.state)) {
      throw new RetryLaterError(`machine ${current.id} was destroyed while being reconciled`);
    }
    if (DOWN_STATES.has(current.state)) {
      if (startedByUs) {
        throw new MachineDownError(`machine ${current.id} went to ${current.state} after a start`);
      }
      try {
        await retryRaces(ctx, "machine start", () => ctx.fly.machines.start(appName, current.id));
      } catch (error) {
        if (isHostError(error)) await noteHostStartFailure(ctx, current, error as Error);
        throw error;
      }
      startedByUs = true;
      ctx.events.push({
        event_type: "machine_started",
        status: "ok",
        metadata: { app_name: appName, machine_id: current.id, previous_state: current.state },
      });
    } else if (!BOOTING_STATES.has(current.state)) {
      // stopping, suspending, ...: let it settle before deciding.
      await pause(ctx, BACKOFF.flyRace.baseMs, `machine ${current.id} to leave ${current.state}`);
      current = await ctx.fly.machines.get(appName, current.id);
      continue;
    }
    const seconds = Math.min(WAIT_CHUNK_SECONDS, Math.floor(remainingMs(ctx) / 1000) - 1);
    if (seconds < 1) throw new DeadlineExceededError(`machine ${current.id} to start`);
    // `failed` too: a machine that cannot boot is noticed at once, not at the end of the wait.
    await ctx.fly.machines.wait(appName, current.id, {
      state: ["started", "failed"],
      timeoutSeconds: seconds,
      signal: ctx.signal,
    });
    current = await ctx.fly.machines.get(appName, current.id);
  }
  if (startedByUs) await endStartFailureRecovery(ctx);
  return current;
}

/**
 * Stops the machine if it runs and waits, within the budget, until it is `stopped` (an ops hold, or a
 * downgrade's grace period: `reason` goes into the `machine_stopped` event).
 */
export async function ensureStopped(
  ctx: ReconcileContext,
  appName: string,
  machine: Machine,
  reason: "hold" | "grace" = "hold",
): Promise<Machine> {
  let current = machine;
  while (!DOWN_STATES.has(current.state)) {
    if (GONE_STATES.has(current.state)) {
      throw new RetryLaterError(`machine ${current.id} was destroyed while being reconciled`);
    }
    if (current.state === "started") {
      await retryRaces(ctx, "machine stop", () => ctx.fly.machines.stop(appName, current.id));
      ctx.events.push({
        event_type: "machine_stopped",
        status: "ok",
        metadata: { app_name: appName, machine_id: current.id, reason },
      });
    } else if (BOOTING_STATES.has(current.state)) {
      // Let it finish booting before stopping it.
      await pause(ctx, BACKOFF.flyRace.baseMs, `machine ${current.id} to leave ${current.state}`);
      current = await ctx.fly.machines.get(appName, current.id);
      continue;
    }
    const seconds = Math.min(WAIT_CHUNK_SECONDS, Math.floor(remainingMs(ctx) / 1000) - 1);
    if (seconds < 1) throw new DeadlineExceededError(`machine ${current.id} to stop`);
    // Waiting for `stopped` requires the machine's version.
    await ctx.fly.machines.wait(appName, current.id, {
      state: "stopped",
      version: current.version,
      timeoutSeconds: seconds,
      signal: ctx.signal,
    });
    current = await ctx.fly.machines.get(appName, current.id);
  }
  return current;
}

/** Destroys every machine of ours in the app (for deprovisioning). */
export async function destroyAllMachines(ctx: ReconcileContext, appName: string): Promise<void> {
  for (const machine of await ourMachines(ctx, appName)) {
    await destroyMachine(ctx, appName, machine, "deprovision");
  }
}

/**
 * Stops every machine of ours in the app and waits until they are down (a downgrade's grace period: the
 * machines and their volume are kept for a re-upgrade); returns the one to keep, if the app has any.
 */
export async function stopAllMachines(ctx: ReconcileContext, appName: string): Promise<Machine | undefined> {
  const stopped: Machine[] = [];
  for (const machine of await ourMachines(ctx, appName)) {
    stopped.push(await ensureStopped(ctx, appName, machine, "grace"));
  }
  return stopped.find((m) => m.id === ctx.row.machine_id) ?? preferredMachine(stopped);
}
