import { FlyRateLimiter, type SharedBucketStore } from "./limiter.ts";
import type { RateRule } from "./rate_limits.ts";
import { AppsResource } from "./resources/apps.ts";
import { IpAssignmentsResource } from "./resources/ip_assignments.ts";
import { LeasesResource } from "./resources/leases.ts";
import { MachinesResource } from "./resources/machines.ts";
import { MetadataResource } from "./resources/metadata.ts";
import { OrgMachinesResource } from "./resources/org_machines.ts";
import { SecretsResource } from "./resources/secrets.ts";
import { VolumesResource } from "./resources/volumes.ts";
import { DEFAULT_RETRY_OPTIONS, type RetryOptions } from "./retry_policy.ts";
import { type CallScope, type FlyAttemptLog, FlyTransport } from "./transport.ts";

/** The public Machines API. */
export const DEFAULT_FLY_API_BASE_URL = "https://api.machines.dev";

/** Options of {@link createFlyClient}. */
export interface FlyClientOptions {
  /** Bearer token (`FLY_API_TOKEN`). Never logged, never put into errors. */
  readonly token: string;
  /** API origin; `/v1` suffix optional. Default {@link DEFAULT_FLY_API_BASE_URL}. */
  readonly baseUrl?: string;
  /** Per-attempt timeout in ms (waits add their own server timeout). Default 30 000. */
  readonly timeoutMs?: number;
  /** Retry settings; unset fields keep {@link DEFAULT_RETRY_OPTIONS}. */
  readonly retry?: Partial<RetryOptions>;
  /**
   * Client-side rate limiting: `false` turns it off; otherwise the documented Fly limits (or `rules`, by
   * operation id), scaled by `rateSafetyFactor` (default 0.95), and at most `maxConcurrency` requests in
   * flight (default 16). With `sharedBuckets`, the org-wide buckets (app create, app delete) live there, so
   * every function instance draws from the same ones.
   */
  readonly rateLimit?: false | {
    readonly maxConcurrency?: number;
    readonly rateSafetyFactor?: number;
    readonly rules?: Readonly<Record<string, RateRule>>;
    readonly sharedBuckets?: SharedBucketStore;
    readonly onSharedBucketError?: (error: unknown) => void;
  };
  /** fetch implementation. Default the global fetch. */
  readonly fetch?: typeof fetch;
  /** User-Agent header. */
  readonly userAgent?: string;
  /** Called after every HTTP attempt (operation, path, status, fly-request-id, duration); never sees the token. */
  readonly onAttempt?: (log: FlyAttemptLog) => void;
}

/** Typed client of the Fly Machines REST API. */
export interface FlyClient {
  /** Apps: create, get, list by org, delete. */
  readonly apps: AppsResource;
  /** IP addresses of an app. */
  readonly ipAssignments: IpAssignmentsResource;
  /** App secrets and their version. */
  readonly secrets: SecretsResource;
  /** Machines: create, list, get, update, start/stop/restart/suspend, delete, wait. */
  readonly machines: MachinesResource;
  /** Machine leases. */
  readonly leases: LeasesResource;
  /** Machine metadata. */
  readonly metadata: MetadataResource;
  /** Every machine of an organization, paged (`GET /v1/orgs/{org_slug}/machines`). */
  readonly orgMachines: OrgMachinesResource;
  /** Volumes: list, create, get, extend, delete. */
  readonly volumes: VolumesResource;
  /**
   * The same client (same limiter) with every call also bound to `scope`: a call in flight or waiting for
   * the limiter ends when its signal aborts (e.g. a reconcile's deadline, a lost lease), and the per-app and
   * per-machine buckets start cold after a takeover (`coldSince`).
   */
  scoped(scope: CallScope): FlyClient;
}

/** The resources over one transport. */
function clientOver(transport: FlyTransport): FlyClient {
  return {
    apps: new AppsResource(transport),
    ipAssignments: new IpAssignmentsResource(transport),
    secrets: new SecretsResource(transport),
    machines: new MachinesResource(transport),
    leases: new LeasesResource(transport),
    metadata: new MetadataResource(transport),
    orgMachines: new OrgMachinesResource(transport),
    volumes: new VolumesResource(transport),
    scoped: (scope) => clientOver(transport.scoped(scope)),
  };
}

/** Creates a client. One per process is enough: the limiter only works if the calls share it. */
export function createFlyClient(options: FlyClientOptions): FlyClient {
  const limiter = options.rateLimit === false ? undefined : new FlyRateLimiter({
    maxConcurrency: options.rateLimit?.maxConcurrency ?? 16,
    rateSafetyFactor: options.rateLimit?.rateSafetyFactor ?? 0.95,
    rules: options.rateLimit?.rules,
    sharedBuckets: options.rateLimit?.sharedBuckets,
    onSharedBucketError: options.rateLimit?.onSharedBucketError,
  });
  const transport = new FlyTransport({
    baseUrl: options.baseUrl ?? DEFAULT_FLY_API_BASE_URL,
    token: options.token,
    timeoutMs: options.timeoutMs ?? 30_000,
    retry: { ...DEFAULT_RETRY_OPTIONS, ...options.retry },
    limiter,
    fetch: options.fetch ?? fetch,
    userAgent: options.userAgent ?? "user-fly-apps/1 (supabase-edge-function)",
    onAttempt: options.onAttempt,
  });
  return clientOver(transport);
}
