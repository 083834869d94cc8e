/**
 * The emulator's enforcement of Fly's documented rate limits, as a generic cell rate algorithm (GCRA).
 *
 * Deliberately not the client's token bucket: an independent formulation of the same documented limits, so a
 * bug in the client's limiter shows up as 429s instead of being mirrored here.
 */

interface Limit {
  /** Milliseconds between requests at the sustained rate. */
  readonly emissionIntervalMs: number;
  /** Requests admitted at once after a quiet period (the schedule may run `burst - 1` intervals ahead). */
  readonly burst: number;
}

const PER_ACTION: Limit = { emissionIntervalMs: 1_000, burst: 3 };
const LIMITS: Readonly<Record<string, Limit>> = {
  Machines_show: { emissionIntervalMs: 200, burst: 10 },
  Apps_delete: { emissionIntervalMs: 600, burst: 100 },
};
const COUNTED_PER_TOKEN: ReadonlySet<string> = new Set(["Apps_delete"]);

/** Per (operation, identifier) rate limiting, on the emulator's monotonic clock. */
export class RateLimiter {
  readonly #theoreticalArrival = new Map<string, number>();
  readonly #limits: Record<string, Limit> = { ...LIMITS };

  /**
   * Replaces the limit of `operation` (e.g. the org's app-create limit, which Fly does not document); its
   * buckets start over, full.
   */
  setLimit(operation: string, rule: { ratePerSecond: number; burst: number }): void {
    this.#limits[operation] = { emissionIntervalMs: 1_000 / rule.ratePerSecond, burst: rule.burst };
    for (const key of this.#theoreticalArrival.keys()) {
      if (key.startsWith(`${operation}:`)) this.#theoreticalArrival.delete(key);
    }
  }

  /**
   * Admits or rejects one request of `operation` on `identifier` (machine id, app name or org). Returns the
   * milliseconds until a request would be admitted, or 0 when this one is admitted.
   */
  check(operation: string, identifier: string, now: number = performance.now()): number {
    const limit = this.#limits[operation] ?? PER_ACTION;
    const key = `${operation}:${COUNTED_PER_TOKEN.has(operation) ? "*" : identifier}`;
    const arrival = Math.max(this.#theoreticalArrival.get(key) ?? now, now);
    const allowAt = arrival - limit.emissionIntervalMs * (limit.burst - 1);
    if (now < allowAt) return Math.ceil(allowAt - now);
    this.#theoreticalArrival.set(key, arrival + limit.emissionIntervalMs);
    return 0;
  }

  /** Forgets all history. */
  reset(): void {
    this.#theoreticalArrival.clear();
  }
}
