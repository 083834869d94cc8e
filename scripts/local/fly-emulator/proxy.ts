/**
 * The emulator's stand-in for Fly's proxy in front of `{app}.fly.dev`: `ANY /_proxy/{app}/{path}` answers a
 * request through one of the app's machines, and autostop passes idle machines down, as Fly's proxy does
 * (docs `reference/fly-proxy-autostop-autostart`):
 *
 * - a request reaches a started machine at once; a stopped or suspended one whose service says `autostart`
 *   is started (a suspended one resumes, faster: `resumeMs` against `startMs`) and the request is answered
 *   once it runs, with `wake_ms`; a machine with `autostart: false` (an ops hold) is never started: 503;
 * - every `passIntervalMs` an autostop pass looks at each app's started machines whose service has
 *   `autostop` `stop` or `suspend` and that had no request for `idleWindowMs` (counted from the first pass
 *   that saw it running), and stops or suspends at most ONE machine per app and region per pass, keeping
 *   `min_machines_running` running.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { EmulatorCore } from "./core.ts";
import { FlyHttpError } from "./http_error.ts";
import type { EmulatorEnv } from "./operation.ts";
import type { AppRecord, MachineRecord } from "./records.ts";
import { isTransient, start, stop, suspend } from "./transitions.ts";

/** Settings of the proxy's autostop. */
export interface ProxyOptions {
  /** How long a started machine must go without a request before a pass idles it. Default 5 minutes. */
  readonly idleWindowMs?: number;
  /** How often an autostop pass runs (Fly: every few minutes). Default 1 minute; 0: no timer (call `pass()`). */
  readonly passIntervalMs?: number;
  /** The clock idle time is measured on (epoch ms). Default `Date.now`; a simulation passes its own. */
  readonly clock?: () => number;
}

/** What a request through the proxy got. */
export interface ProxyAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Longest a request waits for its machine to start. */
const WAKE_TIMEOUT_MS = 60_000;

/** The autostart/autostop settings of a machine's first service (the one `{app}.fly.dev` reaches). */
function serviceOf(
  machine: MachineRecord,
): { autostart: boolean; autostop: string; minRunning: number } | null {
  const services = machine.config.services as Record<string, unknown>[] | undefined;
  const service = services?.[0];
  if (!service) return null;
  const autostop = service.autostop;
  return {
    autostart: service.autostart !== false,
    autostop: autostop === true
      ? "stop"
      : autostop === false || autostop === undefined
      ? "off"
      : String(autostop),
    minRunning: Number(service.min_machines_running ?? 0),
  };
}

/** Fly's proxy for the emulator: request routing with autostart, and autostop passes. */
export class FlyProxy {
  readonly #core: EmulatorCore;
  /** When each running machine last had a request, or was first seen running by a pass (clock ms). */
  readonly #lastActive = new WeakMap<MachineRecord, number>();
  readonly #clock: () => number;
  #idleWindowMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Creates the proxy; its pass timer runs from {@link schedule}. */
  constructor(core: EmulatorCore, options: ProxyOptions = {}) {
    this.#core = core;
    this.#idleWindowMs = options.idleWindowMs ?? 5 * 60_000;
    this.#clock = options.clock ?? Date.now;
    this.schedule(options.passIntervalMs ?? 60_000);
  }

  /** (Re)starts the autostop timer; 0 stops it. */
  schedule(passIntervalMs: number): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = passIntervalMs > 0 ? setInterval(() => this.pass(), passIntervalMs) : undefined;
  }

  /** Changes the idle window from now on. */
  setIdleWindow(ms: number): void {
    this.#idleWindowMs = ms;
  }

  /** One request to `{app}.fly.dev`, answered once a machine runs it. */
  async request(appName: string): Promise<ProxyAnswer> {
    const app = this.#core.store.apps.get(appName);
    if (!app) return { status: 404, body: { error: `no app ${appName}` } };
    const machines = [...app.machines.values()].filter((m) =>
      serviceOf(m) !== null && m.state !== "destroyed"
    );
    const running = machines.find((m) => m.state === "started");
    if (running) return this.#answer(running, null, 0);
    const asleep = machines.find((m) =>
      ["stopped", "suspended"].includes(m.state) && serviceOf(m)!.autostart
    );
    const booting = machines.find((m) => isTransient(m.state) && m.state !== "destroying");
    const machine = asleep ?? booting;
    if (!machine) {
      return { status: 503, body: { error: "no machine of this app can take the request (autostart off)" } };
    }
    const from = machine.state;
    const begun = performance.now();
    if (asleep) await this.#start(app, machine);
    const started = await this.#core.lifecycle.waitFor(
      machine,
      (m) => m.state === "started",
      WAKE_TIMEOUT_MS,
    );
    if (!started) {
      return { status: 502, body: { error: `machine ${machine.id} did not start`, state: machine.state } };
    }
    return this.#answer(machine, from, performance.now() - begun);
  }

  /** Starts a machine for a request, waiting out a stop that has not released it yet (412 still active). */
  async #start(app: AppRecord, machine: MachineRecord): Promise<void> {
    for (;;) {
      try {
        start(this.#core, app, machine);
        return;
      } catch (error) {
        if (!(error instanceof FlyHttpError) || error.status !== 412) throw error;
        await new Promise((resolve) =>
          setTimeout(resolve, Math.max(5, this.#core.config.latency.stillActiveMs / 4))
        );
      }
    }
  }

  #answer(machine: MachineRecord, wokeFrom: string | null, wakeMs: number): ProxyAnswer {
    this.#lastActive.set(machine, this.#clock());
    return {
      status: 200,
      body: { machine_id: machine.id, woke_from: wokeFrom, wake_ms: Math.round(wakeMs * 10) / 10 },
    };
  }

  /** One autostop pass over every app; returns the machines it stopped or suspended. */
  pass(): string[] {
    const idled: string[] = [];
    const now = this.#clock();
    for (const app of this.#core.store.apps.values()) {
      const byRegion = new Map<string, MachineRecord[]>();
      for (const machine of app.machines.values()) {
        if (machine.state !== "started" || !serviceOf(machine)) {
          // Down (or on its way): when it runs again, its idle time counts from then.
          this.#lastActive.delete(machine);
          continue;
        }
        if (!this.#lastActive.has(machine)) this.#lastActive.set(machine, now);
        byRegion.set(machine.region, [...(byRegion.get(machine.region) ?? []), machine]);
      }
      for (const running of byRegion.values()) {
        const idleSince = (m: MachineRecord) => this.#lastActive.get(m)!;
        const candidate = running
          .filter((m) => serviceOf(m)!.autostop !== "off" && now - idleSince(m) >= this.#idleWindowMs)
          .sort((a, b) => idleSince(a) - idleSince(b))[0];
        if (!candidate || running.length <= serviceOf(candidate)!.minRunning) continue;
        if (serviceOf(candidate)!.autostop === "suspend") suspend(this.#core, app, candidate);
        else stop(this.#core, app, candidate);
        idled.push(candidate.id);
      }
    }
    return idled;
  }

  /** Stops the pass timer. */
  close(): void {
    this.schedule(0);
  }
}

/** Registers `ALL /_proxy/{app}` and `ALL /_proxy/{app}/*`: a request to `{app}.fly.dev`. */
export function registerProxyRoutes(app: Hono<EmulatorEnv>, proxy: FlyProxy): void {
  const handler = async (c: Context<EmulatorEnv>) => {
    const answer = await proxy.request(c.req.param("app")!);
    return c.json(answer.body, answer.status as ContentfulStatusCode);
  };
  app.all("/_proxy/:app", handler);
  app.all("/_proxy/:app/*", handler);
}
