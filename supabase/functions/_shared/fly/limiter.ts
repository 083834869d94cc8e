/**
 * The Fly client's rate limiter: token buckets per (action, identifier) plus a global concurrency cap. Buckets
 * Fly counts org-wide (see {@link RateKey.shared}) can live in a {@link SharedBucketStore} that every function
 * instance draws from; all others stay in process.
 *
 * @module
 */
import type { RateKey, RateRule } from "./rate_limits.ts";

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A token bucket that starts full. */
class TokenBucket {
  readonly #rule: RateRule;
  #tokens: number;
  #refilledAt = performance.now();

  constructor(rule: RateRule) {
    this.#rule = rule;
    this.#tokens = rule.burst;
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(
      this.#rule.burst,
      this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rule.ratePerSecond,
    );
    this.#refilledAt = now;
  }

  /** Whether the bucket is full (an idle bucket can be forgotten). */
  isFull(): boolean {
    this.#refill();
    return this.#tokens >= this.#rule.burst;
  }

  /**
   * Waits until a token is available and takes it. With `coldSince` (epoch ms), the bucket first holds no
   * more than it would had it been emptied then: another instance may have used Fly's up to that moment.
   */
  async take(signal?: AbortSignal, coldSince?: number): Promise<void> {
    this.#refill();
    if (coldSince !== undefined) {
      const refilledSince = (Math.max(0, Date.now() - coldSince) / 1000) * this.#rule.ratePerSecond;
      this.#tokens = Math.min(this.#tokens, refilledSince);
    }
    while (this.#tokens < 1) {
      await sleep(Math.ceil(((1 - this.#tokens) / this.#rule.ratePerSecond) * 1000), signal);
      this.#refill();
    }
    this.#tokens -= 1;
  }
}

/** Caps how many requests are in flight at once. */
class Semaphore {
  #available: number;
  readonly #waiters: Array<() => void> = [];

  constructor(limit: number) {
    this.#available = limit;
  }

  /** Waits for a slot; the returned function gives it back (call it exactly once). */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.#available > 0) {
      this.#available -= 1;
    } else {
      await new Promise<void>((resolve, reject) => {
        const waiter = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          reject(signal?.reason);
        };
        this.#waiters.push(waiter);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#available += 1;
    };
  }
}

/**
 * Token buckets shared by every instance of the functions (the Postgres one is `db/rate_buckets.ts`).
 * Reservation semantics: a take always succeeds and says how long to wait before the tokens are usable.
 */
export interface SharedBucketStore {
  /** Reserves `tokens` from the bucket `name` under `rule`; resolves to the milliseconds to wait first. */
  take(name: string, rule: RateRule, tokens: number): Promise<number>;
}

/** Options of one {@link FlyRateLimiter.acquire}. */
export interface AcquireOptions {
  /** Aborts the wait. */
  readonly signal?: AbortSignal;
  /**
   * Epoch ms up to which another function instance may have drawn on Fly's bucket for this identifier (the
   * previous holder of the user's lease): an in-process bucket then holds at most what it would have refilled
   * since. Org-wide buckets are shared already and ignore it.
   */
  readonly coldSince?: number;
}

/** Options of {@link FlyRateLimiter}. */
export interface FlyRateLimiterOptions {
  /** Most requests in flight at once, across all buckets. */
  readonly maxConcurrency: number;
  /** Fraction of each documented rate and burst to use (below 1 leaves headroom for clock and network jitter). */
  readonly rateSafetyFactor: number;
  /** Rules replacing the documented ones, by spec operation id (e.g. a configured app-create rate). */
  readonly rules?: Readonly<Record<string, RateRule>>;
  /** Where the org-wide buckets live; without a store they stay in process like the others. */
  readonly sharedBuckets?: SharedBucketStore;
  /** Told when the shared store fails; the request then falls back to this instance's own bucket. */
  readonly onSharedBucketError?: (error: unknown) => void;
}

interface BucketQueue {
  /** This instance's bucket (the only one, or the fallback of a shared one). */
  readonly bucket: TokenBucket;
  /** Name of the bucket in the shared store, when it lives there. */
  readonly sharedName?: string;
  /** The rule in force (configured or documented, scaled by the safety factor). */
  readonly rule: RateRule;
  /** Settles when the latest request queued on this bucket has been dispatched. */
  tail: Promise<unknown>;
  queued: number;
}

const MAX_IDLE_BUCKETS = 10_000;

/**
 * Client-side limiter: one FIFO token bucket per (action, identifier) and a global concurrency cap.
 *
 * A request takes its token only once the request before it on the same bucket has been dispatched, so the
 * spacing the server sees matches the bucket even when requests wait for a concurrency slot. A request on a
 * shared bucket takes its concurrency slot first and then waits out its reservation, so it is sent as soon as
 * its token is due (at most one slot per shared bucket waits that way, thanks to the FIFO).
 */
export class FlyRateLimiter {
  readonly #options: FlyRateLimiterOptions;
  readonly #concurrency: Semaphore;
  readonly #queues = new Map<string, BucketQueue>();

  /** Creates a limiter with the given concurrency cap and safety factor. */
  constructor(options: FlyRateLimiterOptions) {
    this.#options = options;
    this.#concurrency = new Semaphore(options.maxConcurrency);
  }

  /**
   * Waits until a request on `rateKey` may be sent; the returned function must be called when it finishes.
   * `coldSince` (epoch ms) applies to a bucket kept in process: see {@link AcquireOptions.coldSince}.
   */
  async acquire(rateKey: RateKey, options: AcquireOptions = {}): Promise<() => void> {
    const { signal, coldSince } = options;
    const queue = this.#queueFor(rateKey);
    queue.queued += 1;
    const previous = queue.tail;
    const dispatched = previous.then(() => {
      // A request cancelled while it queued takes no token (a shared one would be lost to every instance).
      signal?.throwIfAborted();
      return queue.sharedName === undefined
        ? this.#dispatchLocal(queue, signal, coldSince)
        : this.#dispatchShared(queue, signal);
    });
    queue.tail = dispatched.catch(() => undefined);
    try {
      return await dispatched;
    } finally {
      queue.queued -= 1;
    }
  }

  async #dispatchLocal(queue: BucketQueue, signal?: AbortSignal, coldSince?: number): Promise<() => void> {
    await queue.bucket.take(signal, coldSince);
    return await this.#concurrency.acquire(signal);
  }

  async #dispatchShared(queue: BucketQueue, signal?: AbortSignal): Promise<() => void> {
    const release = await this.#concurrency.acquire(signal);
    try {
      const waitMs = await this.#reserveShared(queue);
      if (waitMs === undefined) await queue.bucket.take(signal);
      else await sleep(waitMs, signal);
      signal?.throwIfAborted();
      return release;
    } catch (error) {
      release();
      throw error;
    }
  }

  /** The wait the shared store gives for one token, or undefined when the store failed. */
  async #reserveShared(queue: BucketQueue): Promise<number | undefined> {
    try {
      return await this.#options.sharedBuckets!.take(queue.sharedName!, queue.rule, 1);
    } catch (error) {
      this.#options.onSharedBucketError?.(error);
      return undefined;
    }
  }

  #queueFor(rateKey: RateKey): BucketQueue {
    const existing = this.#queues.get(rateKey.key);
    if (existing) return existing;
    if (this.#queues.size >= MAX_IDLE_BUCKETS) this.#forgetIdleBuckets();
    const factor = this.#options.rateSafetyFactor;
    // Both the rate and the burst are scaled: requests released on time can still arrive bunched (event loop
    // and network delays), and a full-size burst would then meet an empty server bucket.
    const documented = this.#options.rules?.[rateKey.operation] ?? rateKey.rule;
    const rule = {
      ratePerSecond: documented.ratePerSecond * factor,
      burst: Math.max(1, Math.floor(documented.burst * factor)),
    };
    const queue: BucketQueue = {
      bucket: new TokenBucket(rule),
      sharedName: rateKey.shared && this.#options.sharedBuckets ? `fly:${rateKey.key}` : undefined,
      rule,
      tail: Promise.resolve(),
      queued: 0,
    };
    this.#queues.set(rateKey.key, queue);
    return queue;
  }

  #forgetIdleBuckets(): void {
    for (const [key, queue] of this.#queues) {
      if (queue.queued === 0 && queue.bucket.isFull()) this.#queues.delete(key);
    }
  }
}
