/** Starts the functions gateway (functions_gateway.ts) as its own Deno process with a given environment. */
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
}

/** A running gateway process. */
export interface FunctionsGateway {
  /** Base URL, e.g. http://127.0.0.1:54321 (functions under /functions/v1/<name>). */
  url: string;
  /** The gateway process' id (e.g. to read its CPU time from /proc in benchmarks). */
  pid: number;
  /** Stops the process, letting pending background work finish first. */
  stop(): Promise<void>;
}

async function forwardLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    lines.forEach(onLine);
  }
  if (buffered) onLine(buffered);
}

/** Spawns the gateway and resolves once it listens. */
export async function startFunctionsGateway(options: GatewayOptions): Promise<FunctionsGateway> {
  const port = options.port ?? freePort();
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
