/**
 * `mapBoundedUntil` / `mapBounded`: bounded concurrency over items in order, and an early stop that lets the
 * started items finish and reports the unstarted ones at once (what a batch hop hands on).
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { mapBounded, mapBoundedUntil } from "../../supabase/functions/_shared/bounded.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("mapBounded: every item, results in item order, never more than `concurrency` in flight", async () => {
  let inFlight = 0;
  let most = 0;
  const results = await mapBounded([5, 1, 4, 2, 3], 2, async (n) => {
    most = Math.max(most, ++inFlight);
    await sleep(n * 3);
    inFlight--;
    return n * 10;
  });
  assertEquals(results, [50, 10, 40, 20, 30]);
  assertEquals(most, 2);
});

Deno.test("mapBoundedUntil: after stop no item starts, started ones finish; onStop gets the rest at once", async () => {
  const stop = new AbortController();
  const finished: number[] = [];
  let onStopAt: { rest: number[]; finished: number } | undefined;
  const run = mapBoundedUntil([1, 2, 3, 4, 5, 6], {
    concurrency: 2,
    stop: stop.signal,
    onStop: (rest) => onStopAt = { rest, finished: finished.length },
  }, async (n) => {
    if (n === 3) stop.abort();
    await sleep(20);
    finished.push(n);
    return `done ${n}`;
  });
  const outcome = await run;
  assertEquals(outcome.results, ["done 1", "done 2", "done 3", "done 4"].slice(0, outcome.results.length));
  assertEquals(
    [...outcome.results.map((r) => Number(r.split(" ")[1])), ...outcome.notStarted],
    [1, 2, 3, 4, 5, 6],
    "started prefix + unstarted rest = all items",
  );
  assert(onStopAt !== undefined, "onStop ran");
  assertEquals(onStopAt.rest, outcome.notStarted);
  assert(onStopAt.finished < outcome.results.length, "onStop ran before the started items finished");
  assertEquals(finished.sort(), outcome.results.map((r) => Number(r.split(" ")[1])).sort());
});

Deno.test("mapBoundedUntil: an already aborted stop starts nothing; a stop after the last start reports nothing", async () => {
  const aborted = AbortSignal.abort();
  let calls = 0;
  const none = await mapBoundedUntil(
    [1, 2],
    { concurrency: 2, stop: aborted, onStop: () => calls++ },
    (n) => {
      calls += 10;
      return Promise.resolve(n);
    },
  );
  assertEquals([none.results, none.notStarted, calls], [[], [1, 2], 1]);

  const late = new AbortController();
  let stopped = false;
  const all = await mapBoundedUntil([1, 2], {
    concurrency: 2,
    stop: late.signal,
    onStop: () => stopped = true,
  }, async (n) => {
    if (n === 2) late.abort();
    await sleep(5);
    return n;
  });
  assertEquals([all.results, all.notStarted, stopped], [[1, 2], [], false]);
});
