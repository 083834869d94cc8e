/**
 * Starts the functions gateway (functions_gateway.ts) as its own Deno process with a given environment.
 * Its worker count and wall clock come from the options, else from this process' GATEWAY_WORKERS and
 * GATEWAY_WALL_CLOCK_S, else the hosted defaults (4 workers per function, 150 s).
 */
import { DEFAULT_WALL_CLOCK_MS, DEFAULT_WORKERS, MAX_WALL_CLOCK_MS } from "./edge_runtime.ts";
import { paths } from "./paths.ts";
import { freePort } from "./process.ts";

/** Options for {@link startFunctionsGateway}. */
export interface GatewayOptions {
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** The functions' environment (only this, plus PATH/HOME/DENO_DIR, reaches them). */
  env: Record<string, string>;
  /** Folder of the functions to serve; supabase/functions by default. */
  functionsDir?: string;
  /** Receives every line the functions print; defaults to this process' stderr. */
  onOutput?: (line: string) => void;
  /** Worker processes per function (GATEWAY_WORKERS, else {@link DEFAULT_WORKERS}). */
  workers?: number;
  /** Wall-clock limit of one worker in ms, at most 400 s (GATEWAY_WALL_CLOCK_S × 1000, else 150 s). */
  wallClockMs?: number;
}

/** A running gateway process. */
export interface FunctionsGateway {
  /** Base URL, e.g. http://127.0.0.1:54321 (functions under /functions/v1/<name>). */
  url: string;
  /** The gateway process' id; its workers are its child processes (benchmarks read their CPU time). */
  pid: number;
  /** Worker processes per function. */
  workers: number;
  /** Wall-clock limit of one worker, in ms. */
  wallClockMs: number;
  /** Stops the process, letting pending background work finish first. */
  stop(): Promise<void>;
}

/** Calls `onLine` with every line of `stream` (the last one too, without its newline). */
export async function forwardLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    lines.forEach(onLine);
  }
  if (buffered) onLine(buffered);
}

/** A positive number from this process' environment variable `name`, or undefined when unset. */
function numberFromEnv(name: string): number | undefined {
  const text = Deno.env.get(name);
  if (text === undefined || text.trim() === "") return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

/** Spawns the gateway and resolves once it listens. */
export async function startFunctionsGateway(options: GatewayOptions): Promise<FunctionsGateway> {
  const port = options.port ?? freePort();
  const workers = options.workers ?? numberFromEnv("GATEWAY_WORKERS") ?? DEFAULT_WORKERS;
  const wallClockS = numberFromEnv("GATEWAY_WALL_CLOCK_S");
  const wallClockMs = options.wallClockMs ??
    (wallClockS === undefined ? DEFAULT_WALL_CLOCK_MS : Math.round(wallClockS * 1000));
  if (wallClockMs > MAX_WALL_CLOCK_MS) {
    throw new Error(`the wall clock may be at most ${MAX_WALL_CLOCK_MS / 1000} s (hosted paid plans)`);
  }
  const onOutput = options.onOutput ?? ((line) => console.error(line));
  const inherited = Object.fromEntries(
    ["PATH", "HOME", "DENO_DIR", "TMPDIR"].flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      "--config",
      paths.denoConfig,
      paths.gateway,
      "--port",
      String(port),
      "--functions-dir",
      options.functionsDir ?? paths.functions,
      "--workers",
      String(workers),
      "--wall-clock-ms",
      String(wallClockMs),
    ],
    cwd: paths.root,
    clearEnv: true,
    env: { ...inherited, ...options.env, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const url = `http://127.0.0.1:${port}`;
  const ready = Promise.withResolvers<void>();
  const onLine = (line: string) => {
    if (line.startsWith("functions gateway listening on")) ready.resolve();
    onOutput(line);
  };
  const output = Promise.all([forwardLines(child.stdout, onLine), forwardLines(child.stderr, onLine)]);
  const exited = child.status.then((status) => {
    ready.reject(new Error(`functions gateway exited with code ${status.code} before listening`));
    return status;
  });

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("functions gateway did not start within 60 s")), 60_000);
  });
  try {
    await Promise.race([ready.promise, timeout]);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await exited;
    throw error;
  } finally {
    clearTimeout(timer);
  }

  return {
    url,
    pid: child.pid,
    workers,
    wallClockMs,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await exited;
      await output;
    },
  };
}
