/** What every route handler of the emulator shares. */
import type { FaultInjector } from "./faults.ts";
import type { ImageRegistry } from "./images.ts";
import type { LatencyProfile } from "./latency.ts";
import type { MachineLifecycle } from "./lifecycle.ts";
import type { RateLimiter } from "./rate_limit.ts";
import type { EmulatorStore } from "./state.ts";

/** Settings fixed when the emulator starts. */
export interface EmulatorConfig {
  /** The bearer token every `/v1` call must carry. */
  readonly token: string;
  /** Our organization's slug; apps are created in it and listed by it. */
  readonly orgSlug: string;
  /** Delays of the API and of machine transitions. */
  readonly latency: LatencyProfile;
  /** Images matching this never boot: the machine ends `failed` (as do tags ending `-crash`). */
  readonly unpullableImage: RegExp;
  /** Region used when a create names none ("near the caller"). */
  readonly defaultRegion: string;
  /** Whether the documented rate limits answer 429. */
  readonly enforceRateLimits: boolean;
}

/**
 * Knobs of the org machine listing, for tests of clients that must cope with what the spec allows: short
 * pages, empty pages and partial answers. Changed through `/_emulator/org-machines`.
 */
export interface OrgListingBehaviour {
  /** Largest page served, whatever `limit` asks for (1..1000). */
  maxPageSize: number;
  /** How many of the next requests answer an empty page that keeps the caller's position. */
  emptyPages: number;
  /** Regions whose listing "fails": their machines are left out and they are reported in `error_regions`. */
  errorRegions: string[];
  /** How long a destroyed machine stays in `include_deleted` answers. */
  deletedRetentionMs: number;
}

/** The listing as the spec describes it: full pages, no failed regions, destroyed machines kept an hour. */
export function defaultOrgListingBehaviour(): OrgListingBehaviour {
  return { maxPageSize: 1000, emptyPages: 0, errorRegions: [], deletedRetentionMs: 60 * 60 * 1000 };
}

/** Answers per operation and status (`reset` and `dropped` for cut connections). */
export class RequestStats {
  readonly #counts = new Map<string, Map<string, number>>();

  /** Counts one answer. */
  record(operation: string, outcome: number | "reset" | "dropped"): void {
    const byOutcome = this.#counts.get(operation) ?? new Map<string, number>();
    byOutcome.set(String(outcome), (byOutcome.get(String(outcome)) ?? 0) + 1);
    this.#counts.set(operation, byOutcome);
  }

  /** `{operation: {status: count}}`. */
  snapshot(): Record<string, Record<string, number>> {
    return Object.fromEntries(
      [...this.#counts].map(([operation, byOutcome]) => [operation, Object.fromEntries(byOutcome)]),
    );
  }

  /** Forgets all counts. */
  clear(): void {
    this.#counts.clear();
  }
}

/** The emulator's state and machinery, handed to every route module. */
export interface EmulatorCore {
  readonly config: EmulatorConfig;
  readonly store: EmulatorStore;
  readonly images: ImageRegistry;
  readonly lifecycle: MachineLifecycle;
  readonly faults: FaultInjector;
  readonly rateLimiter: RateLimiter;
  readonly stats: RequestStats;
  /** Knobs of `GET /v1/orgs/{org}/machines`. */
  orgListing: OrgListingBehaviour;
}
