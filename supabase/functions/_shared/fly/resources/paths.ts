/** Builds `/v1/...` paths with every segment URL-encoded. */
export function apiPath(...segments: readonly string[]): string {
  return `/v1/${segments.map((segment) => encodeURIComponent(segment)).join("/")}`;
}

/** Per-call options every resource method accepts. */
export interface CallOptions {
  /** Cancels the call (limiter waits, retries and the request itself). */
  readonly signal?: AbortSignal;
}

/** Options of the calls that mutate a machine, which may be leased. */
export interface MachineMutationOptions extends CallOptions {
  /** Nonce of the lease we hold on the machine, sent as `fly-machine-lease-nonce`. */
  readonly leaseNonce?: string;
}

/** The `fly-machine-lease-nonce` header, when a nonce is given. */
export function leaseHeaders(leaseNonce: string | undefined): Record<string, string | undefined> {
  return { "fly-machine-lease-nonce": leaseNonce };
}
