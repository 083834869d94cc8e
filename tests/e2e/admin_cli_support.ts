/**
 * Runs the ops CLI in-process against a running stack, as an operator would with the exported variables:
 * the real client (supabase-js `functions.invoke`) over HTTP to the gateway.
 */
import { Writable } from "node:stream";
import { runCli } from "../../scripts/ops/cli.ts";
import type { Stack } from "./_support.ts";

/** What one CLI run printed and its exit code. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
  /** What progress bars drew. */
  progress: string;
}

/** Runs `deno task ops <args>` against `stack` with FUNCTIONS_URL and PROVISIONER_SECRET set. */
export async function ops(stack: Stack, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const progress: string[] = [];
  const code = await runCli(args, {
    env: {
      FUNCTIONS_URL: `${stack.services.gatewayUrl}/functions/v1`,
      PROVISIONER_SECRET: stack.services.provisionerSecret,
      ...env,
    },
    output: { out: (text) => out.push(text), err: (text) => err.push(text) },
    progressStream: new Writable({
      write(chunk, _encoding, done) {
        progress.push(String(chunk));
        done();
      },
    }),
  });
  return { code, out: out.join("\n"), err: err.join("\n"), progress: progress.join("") };
}
