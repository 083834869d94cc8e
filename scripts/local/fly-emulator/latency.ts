/** How long the emulated API and the emulated machines take. */
export interface LatencyProfile {
  /** Name shown in the state dump. */
  readonly name: string;
  /** Added to every API call. */
  readonly requestMs: number;
  /** `created` to `started` for a new machine (half in `created`, half in `starting`). */
  readonly bootMs: number;
  /** `starting` to `started` for a stopped machine (or a suspended one whose snapshot was dropped). */
  readonly startMs: number;
  /** `starting` to `started` for a suspended machine resumed from its snapshot (Fly: a few hundred ms). */
  readonly resumeMs: number;
  /** `stopping` to `stopped`. */
  readonly stopMs: number;
  /** `suspending` to `suspended`. */
  readonly suspendMs: number;
  /** `restarting` to `started`. */
  readonly restartMs: number;
  /** `replacing` to `started` after an update of a running machine. */
  readonly replaceMs: number;
  /** `destroying` to `destroyed`. */
  readonly destroyMs: number;
  /** After reaching `stopped`, how long a start still answers 412 `machine still active`. */
  readonly stillActiveMs: number;
  /** After creating an app, how long `GET /apps/{name}` still answers 404 (eventual consistency). */
  readonly appPropagationMs: number;
  /** After a secrets write, how long before its version satisfies `min_secrets_version`. */
  readonly secretsPropagationMs: number;
  /** `creating` to `created` for an on-demand volume snapshot. */
  readonly snapshotMs: number;
}

/** Short delays for tests: every transition is still asynchronous, but takes tens of milliseconds. */
export const FAST_LATENCY: LatencyProfile = {
  name: "fast",
  requestMs: 0,
  bootMs: 40,
  startMs: 20,
  resumeMs: 8,
  stopMs: 20,
  suspendMs: 20,
  restartMs: 30,
  replaceMs: 40,
  destroyMs: 10,
  stillActiveMs: 30,
  appPropagationMs: 0,
  secretsPropagationMs: 0,
  snapshotMs: 30,
};

/** Delays of the order seen on Fly, for benchmarks. */
export const REALISTIC_LATENCY: LatencyProfile = {
  name: "realistic",
  requestMs: 30,
  bootMs: 3_000,
  startMs: 1_200,
  resumeMs: 300,
  stopMs: 1_000,
  suspendMs: 1_500,
  restartMs: 2_000,
  replaceMs: 2_500,
  destroyMs: 800,
  stillActiveMs: 2_000,
  appPropagationMs: 400,
  secretsPropagationMs: 300,
  snapshotMs: 2_000,
};

/** A named profile, or overrides of the fast one. */
export type LatencyOption = "fast" | "realistic" | Partial<LatencyProfile>;

/** Resolves a {@link LatencyOption} to a full profile. */
export function resolveLatency(option: LatencyOption | undefined): LatencyProfile {
  if (option === undefined || option === "fast") return FAST_LATENCY;
  if (option === "realistic") return REALISTIC_LATENCY;
  return { ...FAST_LATENCY, name: "custom", ...option };
}
