/**
 * The two local commands as a new user meets them: `--help` prints usage; `dev` fails with one line (no stack
 * trace), before it starts anything, naming GATEWAY_PORT or CONSOLE_PORT when the port is taken, and naming
 * the variable (never its value) when the functions' configuration is invalid; empty values in the env file
 * keep the defaults.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { paths } from "../../scripts/local/paths.ts";
import { readFunctionsEnvFile } from "../../scripts/local/stack.ts";

async function run(script: string, args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${paths.root}/${script}`, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** No "    at file:///..." frames. */
function assertNoStackTrace(text: string): void {
  assert(!/^\s+at /m.test(text), `stack trace in:\n${text}`);
}

Deno.test("dev --help and emulator --help print usage and exit 0", async () => {
  const dev = await run("scripts/dev.ts", ["--help"]);
  assertEquals(dev.code, 0, dev.stderr);
  assert(dev.stdout.startsWith("Usage: npx --yes deno@2.9.6 task dev"), dev.stdout);
  assert(dev.stdout.includes("GATEWAY_PORT"), dev.stdout);
  const emulator = await run("scripts/local/fly-emulator/main.ts", ["--", "--help"]);
  assertEquals(emulator.code, 0, emulator.stderr);
  assert(emulator.stdout.startsWith("Usage: deno task emulator"), emulator.stdout);
  const unknown = await run("scripts/dev.ts", ["--nope"]);
  assertEquals(unknown.code, 2);
  assert(unknown.stderr.includes("Usage:"), unknown.stderr);
});

/** A free port on 127.0.0.1. */
function freePort(): string {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  probe.close();
  return String((probe.addr as Deno.NetAddr).port);
}

for (const variable of ["GATEWAY_PORT", "CONSOLE_PORT"]) {
  Deno.test(`dev: a taken ${variable} is one line naming it, exit 1, before anything starts`, async () => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = String((taken.addr as Deno.NetAddr).port);
      const dev = await run("scripts/dev.ts", [], {
        GATEWAY_PORT: freePort(),
        CONSOLE_PORT: freePort(),
        [variable]: port,
      });
      assertEquals(dev.code, 1);
      const lines = dev.stderr.trim().split("\n");
      assertEquals(lines.length, 1, dev.stderr);
      assert(lines[0].startsWith(`dev: port ${port} (${variable}) is already in use`), lines[0]);
      assertEquals(dev.stdout, "", "nothing started");
      assertNoStackTrace(dev.stdout + dev.stderr);
    } finally {
      taken.close();
    }
  });
}

Deno.test("dev: an invalid function configuration names the variable, never its value, before anything starts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dev-env-" });
  const envFile = `${dir}/.env`;
  const shortSecret = "tooShort-7c1e";
  await Deno.writeTextFile(
    envFile,
    `PROVISIONER_SECRET=${shortSecret}\nSWEEP_LIMIT=5000\nFLY_APP_NAME_HASH_LENGTH=99\nFLY_API_BASE_URL=\n`,
  );
  try {
    const dev = await run("scripts/dev.ts", ["--env-file", envFile], {
      GATEWAY_PORT: freePort(),
      CONSOLE_PORT: freePort(),
    });
    assertEquals(dev.code, 1, dev.stdout + dev.stderr);
    assertEquals(dev.stdout, "", "nothing started: no database, no migrations");
    const line = dev.stderr.trim().split("\n").at(-1) ?? "";
    assert(line.startsWith("dev: the functions' configuration is invalid:"), dev.stderr);
    assert(line.includes("PROVISIONER_SECRET must be at least 16 characters"), line);
    assert(line.includes("SWEEP_LIMIT must be at most 1000"), line);
    assert(line.includes("FLY_APP_NAME_HASH_LENGTH"), line);
    assert(!(dev.stdout + dev.stderr).includes(shortSecret), "the value is not printed");
    assertNoStackTrace(dev.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the functions' env file: empty values are dropped so defaults apply; SUPABASE_ names skipped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dev-env-" });
  try {
    await Deno.writeTextFile(
      `${dir}/.env`,
      "FLY_API_TOKEN=\nFLY_API_BASE_URL=  \nPROVISIONER_SECRET=\nFLY_ORG_SLUG=personal\nSUPABASE_URL=http://x\n",
    );
    assertEquals(await readFunctionsEnvFile(`${dir}/.env`), { FLY_ORG_SLUG: "personal" });
    // The shipped example is all defaults or empty values that work locally as they are.
    const example = await readFunctionsEnvFile(`${paths.root}/.env.example`);
    assertEquals(example.FLY_API_TOKEN, undefined);
    assertEquals(example.PROVISIONER_SECRET, undefined);
    assertEquals(example.FLY_API_BASE_URL, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
