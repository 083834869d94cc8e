/**
 * The command lines a new operator is given run as printed on a machine with only Node/npm (no `deno` on
 * PATH): the real `deno task dev` starts, and every line it prints after "Local stack is up" (the export line,
 * the ops CLI, psql, curl) runs in bash and exits 0; then so does every line of the README's ```sh blocks and
 * of docs/operations.md's "The ops CLI" and "Console" sections, against that stack, except lines with
 * placeholders (`<ref>`, `…`) and `task dev` / `task test` themselves (this test runs dev; CI runs test).
 * `task console` is started, answers its page, and is stopped. The "Try failures" block runs as one script and
 * the machine it stops behind the engine's back is started again. Dev's output carries no runtime warning.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { DENO_COMMAND, paths } from "../../scripts/local/paths.ts";
import { section, shellLines } from "../docs/_markdown.ts";
import { waitFor } from "../_support/wait.ts";

/** A free TCP port on 127.0.0.1. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** PATH without any folder that holds a `deno` executable: only Node/npm and the system's tools. */
function pathWithoutDeno(): string {
  return (Deno.env.get("PATH") ?? "").split(":").filter((dir) => {
    try {
      return !Deno.statSync(`${dir}/deno`).isFile;
    } catch {
      return true;
    }
  }).join(":");
}

/** A child process whose output lines are collected as they come. */
interface Running {
  child: Deno.ChildProcess;
  lines: string[];
  done: Promise<void>;
}

function spawn(command: string, args: string[], env: Record<string, string>): Running {
  const child = new Deno.Command(command, {
    args,
    cwd: paths.root,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
    }
    if (rest) lines.push(rest);
  };
  const done = Promise.all([collect(child.stdout), collect(child.stderr)]).then(() => {});
  return { child, lines, done };
}

/** Runs one printed line in bash after `setup`; returns its exit code and output. */
async function bash(setup: string, line: string, env: Record<string, string>) {
  const output = await new Deno.Command("bash", {
    args: ["-c", `${setup}\n${line}`],
    cwd: paths.root,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, out: decode(output.stdout) + decode(output.stderr) };
}

/** Lines the test does not run: placeholders, and the two commands this test and CI are. */
const notRunnable = (line: string) =>
  /<[^>]+>|…|\.\.\.|\$H|\$F/.test(line) || / task (dev|test)\b/.test(line);

Deno.test("every command line dev and the README / operations docs print runs as printed with only Node/npm", async () => {
  const PATH = pathWithoutDeno();
  assert((await bash("", "command -v deno", { PATH })).code !== 0, "no deno on PATH");
  const env = { PATH, HOME: Deno.env.get("HOME") ?? "/root", COLUMNS: "120" };
  const dev = spawn(Deno.execPath(), ["run", "--allow-all", "scripts/dev.ts"], {
    ...env,
    GATEWAY_PORT: String(freePort()),
    CONSOLE_PORT: String(freePort()),
  });
  try {
    await waitFor(
      "dev says the stack is up",
      () => dev.lines.some((line) => line.startsWith("Press Ctrl-C")),
      180_000,
    );
    const printed = dev.lines.slice(dev.lines.findIndex((line) => line.startsWith("Local stack is up")));
    const commands = printed.map((line) => line.trim()).filter((line) =>
      /^(export |psql |curl |npx )/.test(line)
    );
    const exportLine = commands.find((line) => line.startsWith("export FUNCTIONS_URL="));
    assert(exportLine?.includes("DATABASE_URL="), `dev prints the export line: ${printed.join("\n")}`);
    assert(commands.includes(`${DENO_COMMAND} task ops --help`), commands.join("\n"));
    assert(!printed.some((line) => /^\s*deno task/.test(line)), "no bare `deno task` line");

    const ran: string[] = [];
    const run = async (line: string, setup = exportLine!) => {
      const result = await bash(setup, line, env);
      assertEquals(result.code, 0, `${line}\n${result.out}`);
      ran.push(line);
    };
    for (const line of commands.filter((line) => line !== exportLine)) await run(line);

    const readme = await Deno.readTextFile(`${paths.root}/README.md`);
    const operations = await Deno.readTextFile(`${paths.root}/docs/operations.md`);
    const documented = [
      ...shellLines(readme),
      ...shellLines(section(operations, "The ops CLI")),
      ...shellLines(section(operations, "Console")),
    ].filter((line) => !notRunnable(line));
    const exports = documented.filter((line) => line.startsWith("export "));
    const setup = [exportLine!, ...exports].join("\n");
    for (const line of documented.filter((line) => !line.startsWith("export "))) {
      if (/ task console\b/.test(line)) {
        const port = freePort();
        // In a session of its own, so that npx, deno task and the server stop together.
        const operatorConsole = spawn("setsid", ["bash", "-c", `${setup}\nexec ${line}`], {
          ...env,
          CONSOLE_PORT: String(port),
        });
        try {
          await waitFor(
            "the console listens",
            () => operatorConsole.lines.some((l) => l.startsWith("Console ")),
            120_000,
          );
          const page = await fetch(`http://127.0.0.1:${port}/`);
          assertEquals(page.status, 200, await page.text());
        } finally {
          Deno.kill(-operatorConsole.child.pid, "SIGTERM");
          await operatorConsole.child.status;
          await operatorConsole.done;
        }
        ran.push(line);
      } else {
        await run(line, setup);
      }
    }
    // The "Try failures" block is one script (its lines share variables): the stopped machine is started again.
    const tryFailures = shellLines(section(operations, "Try failures"));
    const script = await bash([exportLine!, "set -eo pipefail", ...tryFailures].join("\n"), "", env);
    assertEquals(script.code, 0, script.out);
    assert(script.out.includes('"state":"started"'), `the sweep started the machine again:\n${script.out}`);
    assert(!script.out.includes('"state":"stopped"'), `no machine left stopped:\n${script.out}`);
    ran.push(...tryFailures);
    for (const expected of ["task ops list", "task ops doctor", "task console"]) {
      assert(ran.some((line) => line.includes(`${DENO_COMMAND} ${expected}`)), `${expected} was run: ${ran}`);
    }
  } finally {
    dev.child.kill("SIGINT");
    await dev.child.status;
    await dev.done;
  }
  const warnings = dev.lines.filter((line) => /warning|legacy behavior/i.test(line));
  assertEquals(warnings, [], "dev prints no runtime warning");
});
