/** Asynchronous machine state transitions, their timers, and the waiters of `/wait`. */
import { newUlid } from "./ids.ts";
import type { AppRecord, MachineRecord } from "./records.ts";

type Timer = ReturnType<typeof setTimeout>;

interface Waiter {
  readonly machine: MachineRecord;
  readonly reached: (machine: MachineRecord) => boolean;
  readonly resolve: (reached: boolean) => void;
  readonly timer: Timer;
}

const MAX_EVENTS = 20;

/** Options of {@link MachineLifecycle}. */
export interface MachineLifecycleOptions {
  /** Called after every change of a machine (state or config), once its `updatedAt` is set. */
  readonly onChange?: (app: AppRecord, machine: MachineRecord) => void;
}

/** Drives machine states over time. One per emulator; {@link close} cancels everything pending. */
export class MachineLifecycle {
  readonly #timers = new Set<Timer>();
  readonly #machineTimers = new Map<MachineRecord, Timer>();
  readonly #waiters = new Set<Waiter>();
  readonly #onChange?: (app: AppRecord, machine: MachineRecord) => void;

  /** Creates a lifecycle; `onChange` hears of every machine change. */
  constructor(options: MachineLifecycleOptions = {}) {
    this.#onChange = options.onChange;
  }

  /** Marks the machine as changed now (`updated_at`); {@link setState} does it for every state change. */
  touch(app: AppRecord, machine: MachineRecord): void {
    machine.updatedAt = new Date().toISOString();
    this.#onChange?.(app, machine);
  }

  /** Sets the machine's state now, records an event, and wakes the waiters it satisfies. */
  setState(app: AppRecord, machine: MachineRecord, state: string, source: "user" | "flyd" = "flyd"): void {
    machine.state = state;
    this.touch(app, machine);
    machine.events.unshift({
      id: newUlid(),
      type: eventType(state),
      status: state,
      source,
      timestamp: Date.now(),
    });
    machine.events.length = Math.min(machine.events.length, MAX_EVENTS);
    if (state === "started") app.status = "deployed";
    for (const waiter of this.#waiters) {
      if (waiter.machine === machine && waiter.reached(machine)) this.#settle(waiter, true);
    }
  }

  /**
   * Puts the machine into `transient` now and runs `complete` after `ms` (typically setting the final state).
   * Replaces any transition still pending for this machine.
   */
  transition(
    app: AppRecord,
    machine: MachineRecord,
    transient: string,
    ms: number,
    complete: () => void,
  ): void {
    this.cancel(machine);
    this.setState(app, machine, transient, "user");
    const timer = this.later(ms, () => {
      this.#machineTimers.delete(machine);
      complete();
    });
    this.#machineTimers.set(machine, timer);
  }

  /** Cancels the transition pending for a machine, if any. */
  cancel(machine: MachineRecord): void {
    const timer = this.#machineTimers.get(machine);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#timers.delete(timer);
    this.#machineTimers.delete(machine);
  }

  /** Runs `task` after `ms`, unless the emulator closes first. */
  later(ms: number, task: () => void): Timer {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      task();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  /** Resolves true once `reached(machine)` holds (checked on every state change), false after `timeoutMs`. */
  waitFor(
    machine: MachineRecord,
    reached: (machine: MachineRecord) => boolean,
    timeoutMs: number,
  ): Promise<boolean> {
    if (reached(machine)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        machine,
        reached,
        resolve,
        timer: setTimeout(() => this.#settle(waiter, false), timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Cancels every timer and ends every wait (as not reached). */
  close(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#machineTimers.clear();
    for (const waiter of this.#waiters) this.#settle(waiter, false);
  }

  #settle(waiter: Waiter, reached: boolean): void {
    clearTimeout(waiter.timer);
    this.#waiters.delete(waiter);
    waiter.resolve(reached);
  }
}

function eventType(state: string): string {
  const types: Record<string, string> = {
    created: "launch",
    starting: "start",
    started: "start",
    stopping: "stop",
    stopped: "exit",
    replacing: "update",
    destroyed: "destroy",
  };
  return types[state] ?? state;
}
