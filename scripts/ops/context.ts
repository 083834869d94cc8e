/**
 * What every command works with: the functions (built on first use, so `--help` needs no environment), the
 * output, and a clock (tests replace it).
 *
 * @module
 */
import { type Command, InvalidArgumentError } from "commander";
import { type AdminClient, adminClient, type FunctionsCaller } from "./client.ts";
import { json, type Layout, type Output } from "./output.ts";

/** Shared by the commands. */
export interface CommandContext {
  /** The functions, with the secret and the actor (throws a usage error naming a missing variable). */
  api(): FunctionsCaller;
  /** Where text goes. */
  output: Output;
  /** Waits `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
  /** The stream progress bars draw on (standard error). */
  progressStream: NodeJS.WritableStream;
  /** How wide tables may be (`--wide`: unlimited). */
  layout(): Layout;
}

/** The admin API's typed client, calling through {@link CommandContext.api} (read the answer with
 * `parseResponse` from `hono/client`). */
export function admin(ctx: CommandContext): AdminClient {
  return adminClient(ctx.api());
}

/** Adds `--json` to a command. */
export function withJson(command: Command): Command {
  return command.option("--json", "print the API's answer as JSON (machine output)");
}

/** Prints `result` as JSON when `--json` was given, else as `render(result)`. */
export function print<T>(
  ctx: CommandContext,
  options: { json?: boolean },
  result: T,
  render: (r: T) => string,
) {
  ctx.output.out(options.json ? json(result) : render(result));
}

/** A positive integer option value (commander's argument parser; a bad value is a usage error). */
export function positiveInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new InvalidArgumentError(`${value} is not a positive integer`);
  }
  return number;
}

/** A user id argument (a UUID; anything else is a usage error before any call). */
export function userId(value: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw new InvalidArgumentError(`${value} is not a user id (UUID)`);
  }
  return value.toLowerCase();
}
