/**
 * A local emulator of the Fly Machines API, for tests and the dev stack.
 *
 * `startFlyEmulator()` serves it on 127.0.0.1 (a free port unless one is given) and returns a handle with its
 * URL, its token, fault injection, state inspection and `close()`.
 *
 * @module
 */
import { createAdaptorServer } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { createEmulatorApp } from "./app.ts";
import { defaultOrgListingBehaviour, type EmulatorCore, RequestStats } from "./core.ts";
import { FaultInjector } from "./faults.ts";
import { ImageRegistry, type RegistryEntry } from "./images.ts";
import { type LatencyOption, type LatencyProfile, resolveLatency } from "./latency.ts";
import { MachineLifecycle } from "./lifecycle.ts";
import { FlyProxy, type ProxyOptions } from "./proxy.ts";
import { RateLimiter } from "./rate_limit.ts";
import {
  type EmulatorSnapshot,
  type ForcedMachineState,
  forceMachineState,
  reachable,
  resetEmulator,
  snapshot,
} from "./routes/control.ts";
import {
  type HostStatusOptions,
  readVolumeData,
  setHostStatus,
  writeVolumeData,
} from "./routes/volume_control.ts";
import { advanceClock, holdSnapshots } from "./snapshots.ts";
import { EmulatorStore } from "./state.ts";
import { digestOf } from "./views.ts";

export type { ActiveFaultRule, FaultAction, FaultInjector, FaultRule } from "./faults.ts";
export { FAST_LATENCY, type LatencyOption, type LatencyProfile, REALISTIC_LATENCY } from "./latency.ts";
export type { EmulatorSnapshot, ForcedMachineState } from "./routes/control.ts";
export type { HostStatusOptions } from "./routes/volume_control.ts";
export type { RegistryEntry } from "./images.ts";
export type { FlyProxy, ProxyAnswer, ProxyOptions } from "./proxy.ts";

/** The token used when none is given (`--token` / `FLY_EMULATOR_TOKEN`). */
export const DEFAULT_EMULATOR_TOKEN = "fake-fly-token";

/** Options of {@link startFlyEmulator}. */
export interface FlyEmulatorOptions {
  /** Port to listen on; 0 or omitted picks a free one. */
  readonly port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  readonly hostname?: string;
  /** Bearer token the API requires. Default {@link DEFAULT_EMULATOR_TOKEN}. */
  readonly token?: string;
  /** Our organization's slug. Default `personal`. */
  readonly orgSlug?: string;
  /** `fast` (default, tests), `realistic` (benchmarks), or overrides of `fast`. */
  readonly latency?: LatencyOption;
  /** App names held by other organizations (403 on GET, 422 `name_taken` on create). */
  readonly reservedNames?: readonly string[];
  /** Whether the documented rate limits answer 429. Default true. */
  readonly rateLimits?: boolean;
  /** Images matching this never boot (the machine ends `failed`, as tags ending `-crash` do). Default: containing `unpullable`. */
  readonly unpullableImage?: RegExp;
  /** Region of machines created without one. Default `iad`. */
  readonly defaultRegion?: string;
  /** Seed of the PRNG behind probabilistic faults. */
  readonly faultSeed?: number;
  /** Fly's proxy at `/_proxy/{app}`: its autostop idle window and pass interval (defaults 5 min, 1 min). */
  readonly proxy?: ProxyOptions;
}

/** A running emulator. */
export interface FlyEmulator {
  /** Base URL, e.g. `http://127.0.0.1:4280` (the API is under `/v1`). */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The token the API requires. */
  readonly token: string;
  /** Our organization's slug. */
  readonly orgSlug: string;
  /** The latency profile in force. */
  readonly latency: LatencyProfile;
  /** Fault rules: `faults.add({operation, action, probability?, times?})`, `remove(id)`, `clear()`, `list()`. */
  readonly faults: FaultInjector;
  /** Everything the emulator holds (like `GET /_emulator/state`). */
  state(): EmulatorSnapshot;
  /** Whether machine `fromMachineId` can reach private address `toPrivateIp` (only within one network). */
  reachable(fromMachineId: string, toPrivateIp: string): boolean;
  /** Answers per operation and status, e.g. `{Machines_show: {"200": 50}}`. */
  requestCounts(): Record<string, Record<string, number>>;
  /** Forgets apps, images pushed, counts, faults and rate-limit history. */
  reset(): void;
  /** Replaces the names held by other organizations. */
  setReservedNames(names: readonly string[]): void;
  /** Whether volume extends answer `needs_restart: true` from now on (an older host; off by default). */
  setVolumeExtendNeedsRestart(on: boolean): void;
  /**
   * The org's app-create limit from now on. Fly's docs state none; by default the emulator enforces the
   * per-action rule (1/s, bursts of 3), which is also the functions' default assumption.
   */
  setAppCreateLimit(rule: { ratePerSecond: number; burst: number }): void;
  /** Changes a machine's state behind the client's back (a crash, a host stop). */
  setMachineState(appName: string, machineId: string, state: ForcedMachineState): void;
  /**
   * Sets the content fingerprint a machine "wrote" to a volume (snapshots copy it, restores carry it); with
   * `byMachine`, refused unless a started machine mounts it.
   */
  writeVolumeData(volumeId: string, data: string | null, options?: { byMachine?: boolean }): void;
  /** A volume's content fingerprint. */
  readVolumeData(volumeId: string): string | null;
  /** Marks a host (`state().apps[].volumes[].host`) dead or alive again (see {@link HostStatusOptions}). */
  setHostStatus(host: string, status: "ok" | "unreachable", options?: HostStatusOptions): void;
  /** Holds new on-demand snapshots in `creating` (true) or lets them complete (false). */
  holdSnapshots(hold: boolean): void;
  /** Moves the snapshots' clock forward: daily automatic snapshots are taken, expired ones dropped. */
  advanceClock(ms: number): void;
  /** Pushes an image tag again (same tag, new digest); returns the new digest. */
  pushImage(image: string): string;
  /** Removes an image tag from the registry: creates and updates with it fail as an unpullable image. */
  removeImage(image: string): void;
  /** Tags pushed or removed so far, with their current digest. */
  images(): RegistryEntry[];
  /** Base URL standing for `https://{app}.fly.dev` (through the emulator's proxy). */
  proxyUrl(appName: string): string;
  /** Fly's proxy: `request(app)`, one autostop `pass()`, `setIdleWindow(ms)`, `schedule(passIntervalMs)`. */
  readonly proxy: FlyProxy;
  /** Stops serving, cancels timers and pending waits, closes connections. */
  close(): Promise<void>;
}

/** Starts an emulator and resolves once it listens. */
export async function startFlyEmulator(options: FlyEmulatorOptions = {}): Promise<FlyEmulator> {
  const latency = resolveLatency(options.latency);
  const store = new EmulatorStore(options.reservedNames);
  const unpullableImage = options.unpullableImage ?? /unpullable/;
  const core: EmulatorCore = {
    config: {
      token: options.token ?? DEFAULT_EMULATOR_TOKEN,
      orgSlug: options.orgSlug ?? "personal",
      latency,
      unpullableImage,
      defaultRegion: options.defaultRegion ?? "iad",
      enforceRateLimits: options.rateLimits ?? true,
    },
    store,
    images: new ImageRegistry(digestOf, unpullableImage),
    lifecycle: new MachineLifecycle({ onChange: (app, machine) => store.orgMachines.touch(app, machine) }),
    faults: new FaultInjector(options.faultSeed),
    rateLimiter: new RateLimiter(),
    stats: new RequestStats(),
    orgListing: defaultOrgListingBehaviour(),
  };
  const proxy = new FlyProxy(core, options.proxy);
  const hostname = options.hostname ?? "127.0.0.1";
  // overrideGlobalObjects: false keeps the adapter from replacing the global Request/Response, which would
  // break every Deno.serve handler of a process that runs the emulator in-process (tests, the dev stack).
  const server = createAdaptorServer({
    fetch: createEmulatorApp(core, proxy).fetch,
    hostname,
    overrideGlobalObjects: false,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, hostname, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${hostname}:${port}`,
    port,
    token: core.config.token,
    orgSlug: core.config.orgSlug,
    latency,
    faults: core.faults,
    state: () => snapshot(core),
    reachable: (from, to) => reachable(core, from, to),
    requestCounts: () => core.stats.snapshot(),
    reset: () => resetEmulator(core),
    setReservedNames: (names) => {
      core.store.reservedNames.clear();
      for (const name of names) core.store.reservedNames.add(name);
    },
    setAppCreateLimit: (rule) => core.rateLimiter.setLimit("Apps_create", rule),
    setVolumeExtendNeedsRestart: (on) => {
      core.store.extendNeedsRestart = on;
    },
    setMachineState: (appName, machineId, state) => forceMachineState(core, appName, machineId, state),
    writeVolumeData: (volumeId, data, options) => writeVolumeData(core, volumeId, data, options),
    readVolumeData: (volumeId) => readVolumeData(core, volumeId),
    setHostStatus: (host, status, options) => setHostStatus(core, host, status, options),
    holdSnapshots: (hold) => holdSnapshots(core, hold),
    advanceClock: (ms) => advanceClock(core.store, ms),
    pushImage: (image) => core.images.push(image),
    removeImage: (image) => core.images.remove(image),
    images: () => core.images.list(),
    proxyUrl: (appName) => `http://${hostname}:${port}/_proxy/${appName}`,
    proxy,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        proxy.close();
        core.lifecycle.close();
        server.close(() => resolve());
        if ("closeAllConnections" in server) server.closeAllConnections();
      });
      return closed;
    },
  };
}
