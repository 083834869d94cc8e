/**
 * The local gateway's workers for one function, behaving like the edge runtime's isolates on hosted Supabase
 * (upstream `crates/base/src/worker/supervisor/strategy_per_worker.rs`, `pool.rs`; Supabase docs "limits",
 * KB "546 WORKER_LIMIT"):
 *
 * - up to `size` worker processes serve a function at once; a request goes to an idle one, or starts a new
 *   one while there are fewer than `size`, or else to the least busy one;
 * - a worker's wall clock runs from its start and includes its `EdgeRuntime.waitUntil` work. At half of it
 *   the worker is retired (no new requests; a new worker takes them); at 90 % it gets `beforeunload` with
 *   reason `wall_clock`; at 100 % it is ended, whatever it is still doing;
 * - a retired worker with no request in flight and no pending waitUntil work is ended early, after a
 *   `beforeunload` with reason `early_drop`;
 * - a request whose worker ends under it is answered 546 `WORKER_LIMIT`, as hosted; a worker that cannot
 *   start answers 503 `BOOT_ERROR`.
 *
 * @module
 */
import type { BeforeUnloadReason } from "./edge_runtime.ts";
import { CONTROL_PREFIX, type EdgeFunction } from "./edge_worker.ts";
import { forwardLines } from "./gateway_process.ts";
import { paths } from "./paths.ts";

/** Hosted's answer to a request whose worker was ended by a resource limit (wall clock, CPU, memory). */
export function workerLimitResponse(): Response {
  return Response.json({
    code: "WORKER_LIMIT",
    message: "Function failed due to not having enough compute resources (please check logs)",
  }, { status: 546 });
}

/** Hosted's answer when the function cannot start (a module that fails to load). */
function bootErrorResponse(): Response {
  return Response.json({
    code: "BOOT_ERROR",
    message: "Function failed to start (please check logs)",
  }, { status: 503 });
}

/** Fractions of the wall clock at which the edge runtime retires a worker and warns it (upstream defaults). */
const RETIRE_AT = 0.5;
const BEFOREUNLOAD_AT = 0.9;
/** How often a retired worker is asked whether its waitUntil work is done (for the early drop). */
const DRAIN_POLL_MS = 200;
/** How long a worker may take to finish its waitUntil work when the gateway stops. */
const STOP_GRACE_MS = 15_000;
/** How long a control request (status, beforeunload) may take: a worker stuck on CPU is ended regardless. */
const CONTROL_TIMEOUT_MS = 1_000;

const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "content-length", "host"];

function withoutHopByHop(headers: Headers): Headers {
  const copy = new Headers(headers);
  for (const name of HOP_BY_HOP) copy.delete(name);
  return copy;
}

/** Options of {@link FunctionWorkerPool}. */
export interface WorkerPoolOptions {
  /** Function name (for log lines). */
  readonly name: string;
  /** Path of the function's `index.ts`. */
  readonly entry: string;
  /** Most workers serving the function at once (retired ones finishing their work do not count). */
  readonly size: number;
  /** Wall-clock limit of one worker, in milliseconds. */
  readonly wallClockMs: number;
  /** Receives the workers' output lines and the pool's own. */
  readonly onLine: (line: string) => void;
}

/** serving: takes requests; retired: finishing its work; stopping: the gateway stops; ended: gone. */
type WorkerState = "serving" | "retired" | "stopping" | "ended";

/** One worker process and its wall clock. */
class WorkerProcess {
  readonly pid: number;
  /** Requests routed to this worker and not yet answered. */
  inFlight = 0;
  state: WorkerState = "serving";
  /** The worker's base URL once it listens; rejects when it exits first. */
  readonly ready: Promise<string>;
  /** Settles when the process has exited. */
  readonly exited: Promise<void>;
  readonly #child: Deno.ChildProcess;
  readonly #options: WorkerPoolOptions;
  readonly #timers: ReturnType<typeof setTimeout>[] = [];
  #beforeUnloadSent = false;
  #draining = false;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--quiet",
        "--config",
        paths.denoConfig,
        new URL("./edge_worker.ts", import.meta.url).pathname,
        "--entry",
        options.entry,
      ],
      cwd: paths.root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    const listening = Promise.withResolvers<string>();
    this.ready = listening.promise;
    this.ready.catch(() => {});
    const onLine = (line: string) => {
      const match = /^edge worker listening on (\d+)$/.exec(line);
      if (match) listening.resolve(`http://127.0.0.1:${match[1]}`);
      else options.onLine(line);
    };
    const output = Promise.all([
      forwardLines(this.#child.stdout, onLine),
      forwardLines(this.#child.stderr, onLine),
    ]);
    this.exited = this.#child.status.then(async (status) => {
      this.state = "ended";
      this.#clearTimers();
      listening.reject(new Error(`worker exited with code ${status.code} before listening`));
      await output;
    });
    const wallClock = options.wallClockMs;
    this.#timers.push(
      setTimeout(() => this.#retire(), wallClock * RETIRE_AT),
      setTimeout(() => this.#sendBeforeUnload("wall_clock"), wallClock * BEFOREUNLOAD_AT),
      setTimeout(() => this.#end("wall_clock"), wallClock),
    );
  }

  /** Whether new requests may be routed here. */
  get accepting(): boolean {
    return this.state === "serving";
  }

  /** Sends `request` (path already rewritten to `/<name>/...`) to the worker and reads the whole answer. */
  async proxy(request: Request): Promise<Response> {
    this.inFlight += 1;
    try {
      let base: string;
      try {
        base = await this.ready;
      } catch {
        return bootErrorResponse();
      }
      const url = new URL(request.url);
      const hasBody = request.method !== "GET" && request.method !== "HEAD";
      try {
        const response = await fetch(`${base}${url.pathname}${url.search}`, {
          method: request.method,
          headers: withoutHopByHop(request.headers),
          body: hasBody ? await request.arrayBuffer() : undefined,
          redirect: "manual",
        });
        const body = await response.arrayBuffer();
        return new Response(body.byteLength > 0 ? body : null, {
          status: response.status,
          headers: withoutHopByHop(response.headers),
        });
      } catch (error) {
        // Give the exit a moment to be noticed: a worker ended under the request is a 546, as hosted.
        await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 100))]);
        if (this.state === "ended") return workerLimitResponse();
        throw error;
      }
    } finally {
      this.inFlight -= 1;
    }
  }

  /** Ends the worker the graceful way (SIGTERM: beforeunload `termination`, waitUntil work may finish). */
  async stop(): Promise<void> {
    this.#clearTimers();
    if (this.state !== "ended") this.state = "stopping";
    this.#signal("SIGTERM");
    const timer = setTimeout(() => this.#signal("SIGKILL"), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  #retire(): void {
    if (this.state !== "serving") return;
    this.state = "retired";
    this.#drainWhenIdle();
  }

  /** Early drop: once retired with nothing in flight and no waitUntil work pending, the worker is ended. */
  async #drainWhenIdle(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    while (this.state === "retired") {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
      if (this.state !== "retired" || this.inFlight > 0) continue;
      const pending = await this.#pendingWaitUntil();
      if (pending === 0 && this.inFlight === 0 && this.state === "retired") {
        await this.#end("early_drop");
      }
    }
  }

  async #pendingWaitUntil(): Promise<number | undefined> {
    const response = await this.#control("status");
    return response ? (await response.json().catch(() => ({}))).pending_wait_until : undefined;
  }

  async #sendBeforeUnload(reason: BeforeUnloadReason): Promise<void> {
    if (this.#beforeUnloadSent || this.state === "ended") return;
    this.#beforeUnloadSent = true;
    const response = await this.#control("beforeunload", {
      method: "POST",
      body: JSON.stringify({ reason }),
    });
    await response?.body?.cancel();
  }

  /**
   * A control request to the worker; undefined when it fails or takes longer than CONTROL_TIMEOUT_MS (a
   * worker still booting, stuck on CPU or gone), so that ending a worker never waits on the worker.
   */
  async #control(route: string, init: RequestInit = {}): Promise<Response | undefined> {
    const signal = AbortSignal.timeout(CONTROL_TIMEOUT_MS);
    const timedOut = new Promise<never>((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
    try {
      const base = await Promise.race([this.ready, timedOut]);
      return await fetch(`${base}${CONTROL_PREFIX}${route}`, { ...init, signal });
    } catch {
      return undefined;
    }
  }

  /** Ends the worker at once (beforeunload first unless it already had one), like the runtime's terminate. */
  async #end(reason: BeforeUnloadReason): Promise<void> {
    if (this.state === "ended" || this.state === "stopping") return;
    this.#clearTimers();
    await this.#sendBeforeUnload(reason);
    this.state = "ended";
    this.#options.onLine(
      `functions gateway: worker ${this.pid} of ${this.#options.name} ended (${reason}, ${this.inFlight} in flight)`,
    );
    this.#signal("SIGKILL");
    await this.exited;
  }

  #signal(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // already gone
    }
  }

  #clearTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
  }
}

/** The workers of one function; an {@link EdgeFunction} whose requests are served by worker processes. */
export class FunctionWorkerPool implements EdgeFunction {
  readonly #options: WorkerPoolOptions;
  readonly #workers = new Set<WorkerProcess>();
  #turn = 0;

  /** A pool that starts its workers on demand. */
  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  /** Serves `request` (path `/<name>/...`) on a worker. */
  fetch(request: Request): Promise<Response> {
    return this.#pick().proxy(request);
  }

  /** Process ids of the workers alive now (serving or finishing their work). */
  pids(): number[] {
    return [...this.#workers].map((worker) => worker.pid);
  }

  /** Stops every worker gracefully (beforeunload `termination`, waitUntil work may finish). */
  async stop(): Promise<void> {
    await Promise.all([...this.#workers].map((worker) => worker.stop()));
  }

  #pick(): WorkerProcess {
    const accepting = [...this.#workers].filter((worker) => worker.accepting);
    const idle = accepting.filter((worker) => worker.inFlight === 0);
    if (idle.length > 0) return idle[this.#turn++ % idle.length];
    if (accepting.length < this.#options.size) return this.#start();
    return accepting.reduce((least, worker) => worker.inFlight < least.inFlight ? worker : least);
  }

  #start(): WorkerProcess {
    const worker = new WorkerProcess(this.#options);
    this.#workers.add(worker);
    worker.exited.then(() => this.#workers.delete(worker));
    return worker;
  }
}
