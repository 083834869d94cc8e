/**
 * Runs async work over items with at most `concurrency` in flight, optionally stopping early.
 *
 * @module
 */

/** What {@link mapBoundedUntil} did. */
export interface StoppedMap<T, R> {
  /** Results of the items started, in item order (a prefix of the items). */
  readonly results: R[];
  /** The items never started, in item order: empty unless `stop` aborted before the last one started. */
  readonly notStarted: T[];
}

/** Options of {@link mapBoundedUntil}. */
export interface MapUntilOptions<T> {
  /** Items in flight at most. */
  readonly concurrency: number;
  /** Once aborted, no further item starts; items already started finish. */
  readonly stop: AbortSignal;
  /** Called once, the moment `stop` aborts while items remain unstarted, with those items. */
  readonly onStop?: (notStarted: T[]) => void;
}

/**
 * Applies `work` to the items in order, `concurrency` at a time, until `stop` aborts; resolves when every
 * started item has finished.
 */
export async function mapBoundedUntil<T, R>(
  items: readonly T[],
  options: MapUntilOptions<T>,
  work: (item: T) => Promise<R>,
): Promise<StoppedMap<T, R>> {
  const results = new Array<R>(items.length);
  let next = 0;
  let notStarted: T[] | undefined;
  const halt = () => {
    if (notStarted) return;
    notStarted = items.slice(next);
    if (notStarted.length > 0) options.onStop?.(notStarted);
  };
  if (options.stop.aborted) halt();
  else options.stop.addEventListener("abort", halt, { once: true });
  const lane = async () => {
    while (!notStarted && next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, items.length)) }, lane));
  } finally {
    options.stop.removeEventListener("abort", halt);
  }
  const left = notStarted ?? [];
  return { results: results.slice(0, items.length - left.length), notStarted: left };
}

/** Applies `work` to every item, `concurrency` at a time; resolves with the results in item order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const never = new AbortController().signal;
  return (await mapBoundedUntil(items, { concurrency, stop: never }, work)).results;
}
