/**
 * The machine state machine: which action is allowed from which state, and the asynchronous path it takes.
 *
 * | from \ action | start               | stop               | suspend | restart | update             | delete        |
 * |---------------|---------------------|--------------------|---------|---------|--------------------|---------------|
 * | created       | boots (412 while    | no-op              | 412     | 412     | new version, stays | ok            |
 * |               | the first launch    |                    |         |         |                    |               |
 * |               | is in flight)       |                    |         |         |                    |               |
 * | started       | no-op               | stopping → stopped | → susp. | → start | replacing → start. | force only    |
 * | stopped       | starting → started, | no-op              | 412     | 412     | new version, stays | ok            |
 * |               | 412 "still active"  |                    |         |         | stopped            |               |
 * |               | just after a stop   |                    |         |         |                    |               |
 * | suspended     | starting → started  | → stopped          | no-op   | 412     | new version, stays | ok            |
 * |               | (resumes: resumeMs) | (drops snapshot)   |         |         | (drops snapshot)   |               |
 * | failed        | starting → started  | no-op              | 412     | 412     | boots new version  | ok            |
 * | transient     | 412                 | 412                | 412     | 412     | 412                | force only    |
 *
 * A boot ends `started`, or `failed` when the machine's image crashes (see images.ts). A machine whose
 * volume's host is dead (`/_emulator/hosts`) is `stopped` and refuses to start (412), until an update mounts a
 * volume on a live host (emulator assumption: Fly moves the machine to that host).
 */
import type { EmulatorCore } from "./core.ts";
import { failedPrecondition } from "./http_error.ts";
import { newUlid } from "./ids.ts";
import type { ResolvedImage } from "./images.ts";
import type { AppRecord, MachineRecord } from "./records.ts";

const TRANSIENT_STATES: ReadonlySet<string> = new Set([
  "creating",
  "starting",
  "stopping",
  "restarting",
  "suspending",
  "updating",
  "replacing",
  "destroying",
]);

/** Whether a state is transient (the machine is on its way somewhere). */
export function isTransient(state: string): boolean {
  return TRANSIENT_STATES.has(state);
}

/** The state a boot of the machine's image ends in. */
function bootedState(machine: MachineRecord): "started" | "failed" {
  return machine.image.behaviour === "crash" ? "failed" : "started";
}

/** Boots the machine through `starting`; an image that crashes ends `failed`. */
function boot(core: EmulatorCore, app: AppRecord, machine: MachineRecord, ms: number): void {
  core.lifecycle.transition(app, machine, "starting", ms, () => {
    machine.launching = false;
    core.lifecycle.setState(app, machine, bootedState(machine));
  });
}

/** First launch of a created machine: `created` for half the boot time, then `starting`, then `started`. */
export function launch(core: EmulatorCore, app: AppRecord, machine: MachineRecord): void {
  const half = core.config.latency.bootMs / 2;
  machine.launching = true;
  core.lifecycle.later(half, () => {
    if (machine.state === "created" && machine.launching) boot(core, app, machine, half);
  });
}

function refuseStart(state: string, launching: boolean): never {
  if (state === "starting" || launching) {
    throw failedPrecondition(
      launching
        ? "unable to start machine from current state: 'created'"
        : "machine still attempting to start",
    );
  }
  if (state === "replacing" || state === "updating") {
    throw failedPrecondition("machine getting replaced, refusing to start");
  }
  throw failedPrecondition("machine still active, refusing to start");
}

/** Starts a machine; returns the state it was in. */
export function start(core: EmulatorCore, app: AppRecord, machine: MachineRecord): string {
  const previous = machine.state;
  if (previous === "started") return previous;
  if (machine.hostStatus === "unreachable") {
    throw failedPrecondition("unable to start machine: its host is unreachable");
  }
  const stillActive = previous === "stopped" && performance.now() < machine.stillActiveUntil;
  if (isTransient(previous) || stillActive || machine.launching) refuseStart(previous, machine.launching);
  const { bootMs, startMs, resumeMs } = core.config.latency;
  const resumes = previous === "suspended" && machine.resumable;
  machine.resumable = false;
  boot(core, app, machine, previous === "created" ? bootMs : resumes ? resumeMs : startMs);
  return previous;
}

/** Stops a machine (suspended ones drop their snapshot at once). */
export function stop(core: EmulatorCore, app: AppRecord, machine: MachineRecord): void {
  if (["stopped", "created", "failed"].includes(machine.state) && !machine.launching) return;
  if (machine.state === "suspended") {
    machine.resumable = false;
    return core.lifecycle.setState(app, machine, "stopped", "user");
  }
  if (machine.state !== "started") {
    throw failedPrecondition(`unable to stop machine from current state: '${machine.state}'`);
  }
  core.lifecycle.transition(app, machine, "stopping", core.config.latency.stopMs, () => {
    machine.stillActiveUntil = performance.now() + core.config.latency.stillActiveMs;
    core.lifecycle.setState(app, machine, "stopped");
  });
}

/** Suspends a started machine. */
export function suspend(core: EmulatorCore, app: AppRecord, machine: MachineRecord): void {
  if (machine.state === "suspended") return;
  if (machine.state !== "started") {
    throw failedPrecondition(`unable to suspend machine from current state: '${machine.state}'`);
  }
  core.lifecycle.transition(app, machine, "suspending", core.config.latency.suspendMs, () => {
    machine.resumable = true;
    core.lifecycle.setState(app, machine, "suspended");
  });
}

/** Restarts a started machine (same version). */
export function restart(core: EmulatorCore, app: AppRecord, machine: MachineRecord): void {
  if (machine.state !== "started") throw failedPrecondition("machine not running");
  core.lifecycle.transition(app, machine, "restarting", core.config.latency.restartMs, () => {
    core.lifecycle.setState(app, machine, "started");
  });
}

/** A machine's new config and its image as resolved. */
export interface MachineUpdate {
  readonly config: Record<string, unknown>;
  readonly image: ResolvedImage;
}

/** The host status of the volume `config` mounts (undefined: none mounted, or its host is fine). */
function mountedHostStatus(app: AppRecord, config: Record<string, unknown>): "unreachable" | undefined {
  const mounts = Array.isArray(config.mounts) ? config.mounts as { volume?: string }[] : [];
  const volume = app.volumes.get(mounts[0]?.volume ?? "");
  return volume?.hostStatus === "unreachable" ? "unreachable" : undefined;
}

/** Replaces the config and mints a new version; a running machine reboots into it through `replacing`. */
export function update(
  core: EmulatorCore,
  app: AppRecord,
  machine: MachineRecord,
  { config, image }: MachineUpdate,
  skipLaunch: boolean,
): void {
  if (isTransient(machine.state) || machine.launching) {
    throw failedPrecondition(
      `unable to update machine in state '${machine.launching ? "created" : machine.state}'`,
    );
  }
  machine.versions.unshift({ version: machine.version, config: machine.config });
  machine.version = newUlid();
  machine.config = config;
  // The machine runs where the volume it mounts lives: a new mount on a live host moves it off a dead one.
  machine.hostStatus = mountedHostStatus(app, config);
  machine.image = image;
  // A new config drops a suspended machine's snapshot: its next start boots cold (flyctl issue 4707).
  machine.resumable = false;
  const wasRunning = machine.state === "started";
  if (wasRunning && !skipLaunch) {
    core.lifecycle.transition(app, machine, "replacing", core.config.latency.replaceMs, () => {
      core.lifecycle.setState(app, machine, bootedState(machine));
    });
  } else if (wasRunning) {
    core.lifecycle.setState(app, machine, "stopped", "user");
  } else if (machine.state === "failed" && !skipLaunch) {
    boot(core, app, machine, core.config.latency.startMs);
  } else {
    core.lifecycle.setState(app, machine, machine.state, "user");
  }
}

/** Destroys a machine; without `force` only from a resting state. */
export function destroy(core: EmulatorCore, app: AppRecord, machine: MachineRecord, force: boolean): void {
  const resting = ["stopped", "suspended", "failed", "created"].includes(machine.state) && !machine.launching;
  if (!force && !resting) {
    throw failedPrecondition(
      "unable to destroy machine, not currently stopped, suspended, failed or created",
    );
  }
  machine.launching = false;
  machine.lease = undefined;
  core.lifecycle.transition(app, machine, "destroying", core.config.latency.destroyMs, () => {
    core.lifecycle.setState(app, machine, "destroyed");
  });
}
