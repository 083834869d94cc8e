/**
 * `deno task ops <command>`: the ops CLI (see `cli.ts`; `deno task ops --help` lists the commands).
 *
 * @module
 */
import { runCli } from "./cli.ts";

if (import.meta.main) {
  const code = await runCli(Deno.args, {
    env: Deno.env.toObject(),
    output: { out: (text) => console.log(text), err: (text) => console.error(text) },
    terminalColumns: Deno.stdout.isTerminal() ? Deno.consoleSize().columns : undefined,
  });
  Deno.exit(code);
}
