/**
 * The ops CLI's program (commander): the commands, `--help` everywhere, and one exit code per outcome
 * (0 ok, 1 operation failed, 2 usage error, 3 cannot reach the functions or not authorised). Every failure is
 * one line on standard error, never a stack trace. `runCli` takes its environment and output as arguments,
 * so tests drive it in-process.
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import { createFunctionsCaller, type FunctionsCaller, settingsFromEnv } from "./client.ts";
import { CliError, EXIT, OperationError } from "./errors.ts";
import { json, type Output } from "./output.ts";
import type { CommandContext } from "./context.ts";
import { registerActionCommands } from "./commands/actions.ts";
import { registerAppCommands } from "./commands/apps.ts";
import { registerDoctorCommand } from "./commands/doctor.ts";
import { registerFleetCommands } from "./commands/fleet.ts";
import { registerMigrateCommand } from "./commands/migrate.ts";
import { registerRolloutCommands } from "./commands/rollout.ts";
import { registerSnapshotCommands } from "./commands/snapshots.ts";

/** What the CLI runs with. */
export interface CliDeps {
  /** Environment (FUNCTIONS_URL, PROVISIONER_SECRET, OPS_ACTOR). */
  env: Record<string, string | undefined>;
  /** Where text goes. */
  output: Output;
  /** Replaces the real functions client (tests). */
  caller?: FunctionsCaller;
  /** Waits (tests shorten it). Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Where progress bars draw. Default: standard error. */
  progressStream?: NodeJS.WritableStream;
  /** The terminal's width when standard output is one (`COLUMNS` wins; default 100). */
  terminalColumns?: number;
}

/** Width when neither `COLUMNS` nor the terminal says. */
const DEFAULT_COLUMNS = 100;

const DESCRIPTION = `Operate the per-user Fly apps through the functions.
Environment: FUNCTIONS_URL (https://<ref>.supabase.co/functions/v1), PROVISIONER_SECRET, OPS_ACTOR (optional).
Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 cannot reach the functions or not authorised.`;

/** Builds the program; `ctx` is handed to every command. */
export function buildProgram(ctx: CommandContext, output: Output): Command {
  const program = new Command("ops")
    .description(DESCRIPTION)
    .option("--actor <name>", "operator name recorded in events as claimed:<name> (default: $OPS_ACTOR)")
    .option("--wide", "show whole values: tables are not fitted to COLUMNS (default 100)")
    .configureOutput({
      writeOut: (text) => output.out(text.replace(/\n$/, "")),
      writeErr: (text) => output.err(text.replace(/\n$/, "")),
      // Commander's usage errors in the CLI's one format: `ops: …`, one line.
      outputError: (text, write) =>
        write(
          `ops: ${text.trim().replace(/^error: /, "").replace(/\s*\n\s*/g, " ")} (add --help for usage)\n`,
        ),
    })
    .exitOverride();
  registerAppCommands(program, ctx);
  registerActionCommands(program, ctx);
  registerFleetCommands(program, ctx);
  registerMigrateCommand(program, ctx);
  registerDoctorCommand(program, ctx);
  registerRolloutCommands(program, ctx);
  registerSnapshotCommands(program, ctx);
  for (const command of program.commands) {
    command.configureOutput(program.configureOutput()).exitOverride();
  }
  return program;
}

/** Runs the CLI on `args` and returns the exit code. */
export async function runCli(args: string[], deps: CliDeps): Promise<number> {
  const { output } = deps;
  let caller = deps.caller;
  const ctx: CommandContext = {
    api() {
      const actor = program.opts().actor ?? deps.env.OPS_ACTOR;
      caller ??= createFunctionsCaller(settingsFromEnv(deps.env, actor));
      return caller;
    },
    output,
    sleep: deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    layout: () => ({
      width: program.opts().wide
        ? Infinity
        : Number(deps.env.COLUMNS) || deps.terminalColumns || DEFAULT_COLUMNS,
    }),
    progressStream: deps.progressStream ??
      (globalThis as unknown as { process: { stderr: NodeJS.WritableStream } })
        .process.stderr,
  };
  const program = buildProgram(ctx, output);
  if (args.length === 0) {
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await program.parseAsync(args, { from: "user" });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" that exit 0; everything else commander raises is a usage error
      // (already printed by commander).
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      // With --json, an API failure's answer still goes to standard output (e.g. a failed reconcile).
      if (error instanceof OperationError && error.status > 0 && args.includes("--json")) {
        output.out(json(error.body));
      }
      output.err(`ops: ${error.message}`);
      return error.exitCode;
    }
    output.err(`ops: unexpected failure: ${(error as Error)?.message ?? String(error)}`);
    return EXIT.failed;
  }
}
