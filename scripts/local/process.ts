/** Small helpers to run external commands from the local stack scripts. */

/** Options for {@link run}. */
export interface RunOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Pass output straight to this process' stdout/stderr instead of capturing it. */
  inherit?: boolean;
}

/** Result of a finished command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws on a non-zero exit (see {@link runOrThrow}). */
export async function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const stdio = options.inherit ? "inherit" : "piped";
  const output = await new Deno.Command(cmd, {
    args,
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: stdio,
    stderr: stdio,
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: options.inherit ? "" : decoder.decode(output.stdout),
    stderr: options.inherit ? "" : decoder.decode(output.stderr),
  };
}

/** Runs a command and throws an error naming it and quoting its stderr when it fails. */
export async function runOrThrow(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) {
    const detail = (result.stderr || result.stdout).trim().split("\n").slice(-15).join("\n");
    throw new Error(`${cmd} ${args.join(" ")} exited with ${result.code}\n${detail}`);
  }
  return result;
}

/** True when a command can be found on PATH. */
export async function commandExists(cmd: string): Promise<boolean> {
  const result = await run("sh", ["-c", `command -v ${cmd}`]);
  return result.code === 0;
}

/** True when this process runs as root. */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
