/** The functions gateway routes /functions/v1/<name> to that function, like Supabase's gateway. */
import { assert, assertEquals } from "../_support/assert.ts";
import { createGatewayHandler, type EdgeFunction } from "../../scripts/local/functions_gateway.ts";
import { startFunctionsGateway } from "../../scripts/local/gateway_process.ts";

const echo = (name: string): EdgeFunction => ({
  fetch: (request) => {
    const url = new URL(request.url);
    return Response.json({ name, path: url.pathname, search: url.search, method: request.method });
  },
});

Deno.test("gateway handler routes by function name and rewrites the path the runtime way", async () => {
  const handler = createGatewayHandler(new Map([["alpha", echo("alpha")], ["beta", echo("beta")]]));
  const alpha = await handler(
    new Request("http://x/functions/v1/alpha/status?wait=true", { method: "POST" }),
  );
  assertEquals(await alpha.json(), {
    name: "alpha",
    path: "/alpha/status",
    search: "?wait=true",
    method: "POST",
  });
  const beta = await handler(new Request("http://x/functions/v1/beta"));
  assertEquals((await beta.json()).name, "beta");
});

Deno.test("gateway handler answers 404 for an unknown function or a path outside /functions/v1", async () => {
  const handler = createGatewayHandler(new Map([["alpha", echo("alpha")]]));
  for (const path of ["/functions/v1/gamma", "/functions/v1/", "/alpha", "/rest/v1/alpha"]) {
    const response = await handler(new Request(`http://x${path}`));
    assertEquals(response.status, 404, path);
    assertEquals((await response.json()).code, "NOT_FOUND");
  }
});

Deno.test("gateway process serves a function folder with the given environment and EdgeRuntime", async () => {
  const dir = await Deno.makeTempDir({ prefix: "functions-" });
  await Deno.mkdir(`${dir}/hello`);
  await Deno.mkdir(`${dir}/_shared`);
  await Deno.writeTextFile(`${dir}/_shared/index.ts`, "export default {};");
  await Deno.writeTextFile(
    `${dir}/hello/index.ts`,
    `export default {
      fetch: (request: Request) => Response.json({
        path: new URL(request.url).pathname,
        supabaseUrl: Deno.env.get("SUPABASE_URL"),
        leaked: Deno.env.get("LOCAL_DB_URL") ?? null,
        edgeRuntime: typeof (globalThis as { EdgeRuntime?: unknown }).EdgeRuntime,
      }),
    };`,
  );
  const lines: string[] = [];
  const gateway = await startFunctionsGateway({
    functionsDir: dir,
    env: { SUPABASE_URL: "http://127.0.0.1:1" },
    onOutput: (line) => lines.push(line),
  });
  try {
    const response = await fetch(`${gateway.url}/functions/v1/hello`);
    assertEquals(await response.json(), {
      path: "/hello",
      supabaseUrl: "http://127.0.0.1:1",
      leaked: null,
      edgeRuntime: "object",
    });
    const unknown = await fetch(`${gateway.url}/functions/v1/_shared`);
    assertEquals(unknown.status, 404);
    await unknown.body?.cancel();
  } finally {
    await gateway.stop();
    await Deno.remove(dir, { recursive: true });
  }
  assertEquals(lines.some((line) => line.includes("listening")), true);
});

/** A temporary functions folder with one `index.ts` per entry of `sources`; removed by the returned function. */
async function functionsFolder(
  sources: Record<string, string>,
): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "functions-" });
  for (const [name, source] of Object.entries(sources)) {
    await Deno.mkdir(`${dir}/${name}`);
    await Deno.writeTextFile(`${dir}/${name}/index.ts`, source);
  }
  return { dir, remove: () => Deno.remove(dir, { recursive: true }) };
}

/**
 * A function that records `beforeunload` reasons and finished background work as lines `<pid> <what>` in
 * $MARKER_FILE, answers {pid} after ?ms= milliseconds, and with ?background_ms= answers at once and keeps
 * working that long in EdgeRuntime.waitUntil.
 */
const RECORDING_FUNCTION = `
  const mark = (what: string) => Deno.writeTextFileSync(Deno.env.get("MARKER_FILE")!, Deno.pid + " " + what + "\\n", { append: true });
  addEventListener("beforeunload", (event) => mark((event as CustomEvent).detail?.reason ?? "no-reason"));
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  export default {
    fetch: async (request: Request) => {
      const url = new URL(request.url);
      const background = Number(url.searchParams.get("background_ms") ?? "-1");
      if (background >= 0) {
        (globalThis as any).EdgeRuntime.waitUntil(sleep(background).then(() => mark("done")));
      } else {
        await sleep(Number(url.searchParams.get("ms") ?? "0"));
      }
      return Response.json({ pid: Deno.pid });
    },
  };`;

async function markers(file: string): Promise<string[]> {
  return (await Deno.readTextFile(file).catch(() => "")).split("\n").filter((line) => line !== "");
}

async function pidOf(response: Response): Promise<number> {
  assertEquals(response.status, 200);
  return (await response.json()).pid;
}

Deno.test("gateway process spreads concurrent requests over its worker processes and reuses them", async () => {
  const folder = await functionsFolder({ rec: RECORDING_FUNCTION });
  const marker = `${folder.dir}/markers`;
  const gateway = await startFunctionsGateway({
    functionsDir: folder.dir,
    env: { MARKER_FILE: marker },
    workers: 3,
    onOutput: () => {},
  });
  try {
    const concurrent = await Promise.all(
      Array.from({ length: 6 }, () => fetch(`${gateway.url}/functions/v1/rec?ms=400`).then(pidOf)),
    );
    const workers = new Set(concurrent);
    assertEquals(workers.size, 3, `6 concurrent requests ran on ${[...concurrent]}`);
    assert(!workers.has(gateway.pid), "not in the gateway process itself");
    for (let i = 0; i < 4; i++) {
      const pid = await pidOf(await fetch(`${gateway.url}/functions/v1/rec`));
      assert(workers.has(pid), "later requests go to the running workers, none is started");
    }
  } finally {
    await gateway.stop();
  }
  const stopped = await markers(marker);
  assertEquals(stopped.map((line) => line.split(" ")[1]), ["termination", "termination", "termination"]);
  assertEquals(
    new Set(stopped.map((line) => line.split(" ")[0])).size,
    3,
    "on stop each worker gets beforeunload",
  );
  await folder.remove();
});

Deno.test("gateway process: a worker past its wall clock gets beforeunload, a request still on it fails 546 as hosted, a new worker takes over", async () => {
  const folder = await functionsFolder({ rec: RECORDING_FUNCTION });
  const marker = `${folder.dir}/markers`;
  // The wall clock runs from the worker's start, its boot included: leave a slow boot time to install its
  // beforeunload listener.
  const wallClockS = 8;
  const gateway = await startFunctionsGateway({
    functionsDir: folder.dir,
    env: { MARKER_FILE: marker },
    workers: 1,
    wallClockMs: wallClockS * 1000,
    onOutput: () => {},
  });
  try {
    const started = performance.now();
    const doomed = await fetch(`${gateway.url}/functions/v1/rec?ms=20000`);
    const seconds = (performance.now() - started) / 1000;
    assertEquals(doomed.status, 546);
    assertEquals(await doomed.json(), {
      code: "WORKER_LIMIT",
      message: "Function failed due to not having enough compute resources (please check logs)",
    });
    assert(
      seconds > wallClockS - 1 && seconds < wallClockS + 4,
      `ended after ${seconds.toFixed(1)} s, not at its ${wallClockS} s wall clock`,
    );
    const [ended] = await markers(marker);
    const [endedPid, reason] = ended.split(" ");
    assertEquals(reason, "wall_clock", "beforeunload came first, with the runtime's reason");
    const next = await pidOf(await fetch(`${gateway.url}/functions/v1/rec`));
    assert(String(next) !== endedPid, "the next request runs on a new worker");
  } finally {
    await gateway.stop();
    await folder.remove();
  }
});

Deno.test("gateway process: waitUntil work counts in the wall clock; a retired worker whose work is done is dropped early", async () => {
  const folder = await functionsFolder({ rec: RECORDING_FUNCTION });
  const marker = `${folder.dir}/markers`;
  const gateway = await startFunctionsGateway({
    functionsDir: folder.dir,
    env: { MARKER_FILE: marker },
    workers: 2,
    wallClockMs: 4_000,
    onOutput: () => {},
  });
  try {
    // Concurrent, so each lands on its own worker; both answer at once and keep working in the background.
    const [short, long] = await Promise.all([
      fetch(`${gateway.url}/functions/v1/rec?background_ms=300`).then(pidOf),
      fetch(`${gateway.url}/functions/v1/rec?background_ms=20000`).then(pidOf),
    ]);
    assert(short !== long, "two workers");
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const lines = await markers(marker);
    assert(lines.includes(`${short} done`), `short background work finished: ${lines}`);
    assert(
      lines.includes(`${short} early_drop`),
      `retired at half its wall clock and idle: dropped: ${lines}`,
    );
    assert(lines.includes(`${long} wall_clock`), `long background work meets the wall clock: ${lines}`);
    assert(!lines.includes(`${long} done`), "and is cut off by it");
  } finally {
    await gateway.stop();
    await folder.remove();
  }
});
