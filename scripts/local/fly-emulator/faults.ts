/**
 * Fault injection: per operation (spec operation id, or `*`), with a probability and/or a count.
 *
 * Status faults and resets happen before the request is processed (nothing changes on the server);
 * `drop-response` processes the request and then cuts the connection, like a response lost on the way back.
 */

/** What a fault does to a matching request. */
export type FaultAction =
  | {
    readonly type: "status";
    readonly status: 400 | 429 | 500 | 502 | 503 | 504;
    readonly retryAfterSeconds?: number;
  }
  | { readonly type: "reset" }
  | { readonly type: "drop-response" }
  | { readonly type: "delay"; readonly ms: number };

/** A fault rule. */
export interface FaultRule {
  /** Spec operation id (e.g. `Machines_create`) or `*` for every operation. */
  readonly operation: string;
  /** What happens to a matching request. */
  readonly action: FaultAction;
  /** Chance (0..1) that a matching request is hit. Default 1. */
  readonly probability?: number;
  /** Hit only this many requests, then the rule disappears ("fail the next N calls"). Default unlimited. */
  readonly times?: number;
}

/** A rule as listed, with its id and remaining count. */
export interface ActiveFaultRule extends FaultRule {
  /** Id to remove the rule with. */
  readonly id: string;
  /** Requests hit so far. */
  readonly hits: number;
}

/** A small seeded PRNG (mulberry32), so probabilistic faults replay with the same seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Holds the fault rules and picks the fault, if any, for each request. */
export class FaultInjector {
  readonly #rules: { id: string; rule: FaultRule; remaining?: number; hits: number }[] = [];
  readonly #random: () => number;
  #nextId = 1;

  /** Creates an injector; `seed` makes probabilistic faults reproducible. */
  constructor(seed: number = Math.floor(Math.random() * 2 ** 32)) {
    this.#random = seededRandom(seed);
  }

  /** Adds a rule and returns its id. Rules are tried in the order they were added. */
  add(rule: FaultRule): string {
    const probability = rule.probability ?? 1;
    if (!(probability >= 0 && probability <= 1)) throw new RangeError("probability must be within 0..1");
    const id = `fault-${this.#nextId++}`;
    this.#rules.push({ id, rule, remaining: rule.times, hits: 0 });
    return id;
  }

  /** Removes one rule; false when there was none with that id. */
  remove(id: string): boolean {
    const index = this.#rules.findIndex((entry) => entry.id === id);
    if (index >= 0) this.#rules.splice(index, 1);
    return index >= 0;
  }

  /** Removes every rule. */
  clear(): void {
    this.#rules.length = 0;
  }

  /** The active rules. */
  list(): ActiveFaultRule[] {
    return this.#rules.map((entry) => ({
      ...entry.rule,
      id: entry.id,
      times: entry.remaining,
      hits: entry.hits,
    }));
  }

  /** The fault for one request of `operation`, or undefined. Consumes one use of a counted rule. */
  pick(operation: string): FaultAction | undefined {
    for (const entry of this.#rules) {
      if (entry.rule.operation !== "*" && entry.rule.operation !== operation) continue;
      if (this.#random() >= (entry.rule.probability ?? 1)) continue;
      entry.hits += 1;
      if (entry.remaining !== undefined) {
        entry.remaining -= 1;
        if (entry.remaining <= 0) this.remove(entry.id);
      }
      return entry.rule.action;
    }
    return undefined;
  }
}
