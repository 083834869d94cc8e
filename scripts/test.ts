/**
 * `deno task test`: brings up the local database (stand-ins + migrations + pgTAP), then runs two tracks at
 * once, since most tests wait on timers, rate limits and child processes rather than on the CPU:
 *
 * - `deno test --parallel` over the test files that keep to databases of their own (scratch clones of a
 *   migrated template, see tests/_support/migrated_database.ts), TEST_JOBS files at a time (default 6);
 * - pg_prove over supabase/tests as `postgres` on the cluster's `postgres` database, then, one at a time,
 *   the deno test files that use that shared database too or change process-wide state
 *   ({@link SERIAL_FILES}), then the static checks (fmt, lint, check).
 *
 * Deno tests get LOCAL_DB_URL (the database as the hosted project role `postgres`) and LOCAL_ADMIN_DB_URL
 * (as the superuser supabase_admin); the parallel track also gets TESTS_SHARED_DATABASE=off, which makes
 * `localDatabaseUrl()` refuse, so a file that starts using the shared database fails until it is listed.
 * The parallel track's output streams live; the other track's stages print whole as each ends. The run ends
 * with the time of each phase and one line `N passed, N failed` over everything, and exits non-zero on any
 * failure. The database is removed on every path out, Ctrl-C included.
 *
 * While developing, `deno task test PATH...` runs only the given deno test files or folders (pgTAP too when
 * a path lies under supabase/tests), and skips the static checks.
 */
import { startLocalDatabase } from "./local/database.ts";
import { paths } from "./local/paths.ts";
import { databaseChecks } from "./local/supabase_cli.ts";

/**
 * Test files that must not run next to others, with the reason; they run one at a time, after pgTAP.
 * `deno test --parallel` runs files in one process, so the process environment is shared too.
 */
const SERIAL_FILES: Record<string, string> = {
  "tests/e2e/admin_doctor.test.ts": "shared database: Vault secrets, pg_cron's jobs and run details",
  "tests/e2e/cron.test.ts": "shared database: Vault secrets, pg_cron's job, pg_net's queue",
  "tests/local/cron_migration.test.ts": "shared database: pg_cron's jobs",
  "tests/db/patch_columns.test.ts": "shared database (read only)",
  "tests/http/entrypoints.test.ts": "sets process environment variables, which child processes inherit",
};

/** Static checks of a full run, each counting as one test. */
const STATIC_CHECKS: Record<string, string[]> = {
  fmt: ["fmt", "--check"],
  lint: ["lint"],
  check: ["check", "scripts/", "supabase/functions/", "tests/"],
};

/** Outcome of one stage. */
interface StageResult {
  passed: number;
  failed: number;
  skipped: number;
}

/** Output of a finished command. */
interface CommandOutput {
  code: number;
  text: string;
}

/** Writes to stdout one whole piece at a time, so concurrent stages never split each other's lines. */
class Console {
  #queue = Promise.resolve();

  write(text: string): Promise<void> {
    const bytes = new TextEncoder().encode(text);
    this.#queue = this.#queue.then(async () => {
      for (let offset = 0; offset < bytes.length;) offset += await Deno.stdout.write(bytes.subarray(offset));
    });
    return this.#queue;
  }
}

const out = new Console();

/**
 * Runs a command with stdin closed. `live` streams its output line by line as it comes; otherwise it is
 * printed in one piece under `title` when the command ends. Either way the text is returned for parsing.
 */
async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; live?: boolean; title?: string } = {},
): Promise<CommandOutput> {
  const started = Date.now();
  const child = new Deno.Command(cmd, {
    args,
    cwd: paths.root,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let pending = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (!options.live) continue;
      pending += chunk;
      const end = pending.lastIndexOf("\n") + 1;
      if (end > 0) await out.write(pending.slice(0, end));
      pending = pending.slice(end);
    }
    if (options.live && pending) await out.write(`${pending}\n`);
  };
  await Promise.all([pump(child.stdout), pump(child.stderr)]);
  const { code } = await child.status;
  if (!options.live) {
    await out.write(`\n== ${options.title ?? args[0]} (${seconds(Date.now() - started)}) ==\n${text}`);
  }
  return { code, text };
}

/** `ms` as `1m05s` or `42s`. */
function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** Test files under `dir`, as deno test would find them. */
async function testFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(`${paths.root}/${dir}`)) {
    const path = `${dir.replace(/\/$/, "")}/${entry.name}`;
    if (entry.isDirectory) found.push(...await testFiles(path));
    else if (/(^|[._])test\.(ts|tsx|mts|js|mjs|jsx)$/.test(entry.name)) found.push(path);
  }
  return found.sort();
}

/** Splits deno test targets into the files of {@link SERIAL_FILES} and the rest. */
async function partition(targets: string[]): Promise<{ serial: string[]; parallel: string[] }> {
  const serial: string[] = [];
  const parallel: string[] = [];
  for (const target of targets) {
    const isDir = await Deno.stat(`${paths.root}/${target}`).then((s) => s.isDirectory, () => false);
    for (const file of isDir ? await testFiles(target) : [target]) {
      const normalised = file.replace(/^\.\//, "");
      (normalised in SERIAL_FILES ? serial : parallel).push(normalised);
    }
  }
  return { serial, parallel };
}

async function hasFiles(dir: string, suffix: string): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(suffix)) return true;
    }
  } catch {
    // missing folder
  }
  return false;
}

/** pgTAP via pg_prove, counting individual assertions. */
async function runPgTap(pgProve: string, port: number): Promise<StageResult> {
  if (!(await hasFiles(paths.sqlTests, ".sql"))) return { passed: 0, failed: 0, skipped: 0 };
  const { code, text } = await run(pgProve, [
    ...["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres"],
    ...["--ext", ".sql", "-r", "-v", paths.sqlTests],
  ], { title: "pgTAP (supabase/tests)" });
  const passed = (text.match(/^\s*ok \d+/gm) ?? []).length;
  const failed = (text.match(/^\s*not ok \d+/gm) ?? []).length;
  // A file that dies before its plan completes fails without "not ok" lines: count it once.
  return { passed, failed: failed === 0 && code !== 0 ? 1 : failed, skipped: 0 };
}

/** Options of {@link runDenoTests}. */
interface DenoTestOptions {
  files: string[];
  env: Record<string, string>;
  /** Run deno test's own type check (a full run type-checks everything in its static checks anyway). */
  typeCheck: boolean;
  /** Run the files `jobs` at a time (`--parallel`); one at a time when absent. */
  jobs?: number;
  /** Stream the output live (else print it whole under `title` at the end). */
  live: boolean;
  title: string;
}

/** deno test over `files`, counting test cases from deno's closing line. */
async function runDenoTests(options: DenoTestOptions): Promise<StageResult> {
  if (options.files.length === 0) return { passed: 0, failed: 0, skipped: 0 };
  const { code, text } = await run(
    Deno.execPath(),
    [
      "test",
      "--allow-all",
      "--permit-no-files",
      ...(options.typeCheck ? [] : ["--no-check"]),
      ...(options.jobs ? ["--parallel"] : []),
      ...options.files,
    ],
    {
      env: { ...options.env, ...(options.jobs ? { DENO_JOBS: String(options.jobs) } : {}) },
      live: options.live,
      title: options.title,
    },
  );
  const summary = text.split("\n").reverse().find((line) => /\d+ passed.*\d+ failed/.test(line)) ?? "";
  const count = (label: string) => Number(new RegExp(`(\\d+) ${label}`).exec(summary)?.[1] ?? 0);
  const result = { passed: count("passed"), failed: count("failed"), skipped: count("ignored") };
  if (code !== 0 && result.failed === 0) result.failed = 1;
  return result;
}

/**
 * A static check counts as one test. It runs at a lower CPU priority (`nice`): it only has to end with the
 * tests, while the tests' timing matters.
 */
async function runCheck(name: string, args: string[]): Promise<StageResult> {
  const { code } = await run("nice", ["-n", "10", Deno.execPath(), ...args], {
    title: `static check: ${name}`,
  });
  return { passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1, skipped: 0 };
}

/** Start and end of a phase, in ms since the epoch. */
type Phase = { start: number; end: number };

/** Runs `fn` and records its span under `name` (joined with earlier spans of that name). */
async function timed<T>(phases: Record<string, Phase>, name: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await fn();
  } finally {
    const before = phases[name];
    phases[name] = {
      start: Math.min(before?.start ?? start, start),
      end: Math.max(before?.end ?? 0, Date.now()),
    };
  }
}

async function main(targets: string[]): Promise<number> {
  const wallStart = Date.now();
  const phases: Record<string, Phase> = {};
  const stageResults: Record<string, StageResult> = {};
  const full = targets.length === 0;
  const sqlTargets = targets.filter((t) => t.startsWith("supabase/tests"));
  const { serial, parallel } = await partition(
    full ? ["tests/"] : targets.filter((t) => !sqlTargets.includes(t)),
  );
  const jobs = Number(Deno.env.get("TEST_JOBS") ?? 6);

  console.log("Starting the local database...");
  const database = await timed(
    phases,
    "database",
    () => startLocalDatabase({ withPgTap: true, cronLaunchJobs: false, log: console.log }),
  );
  const stop = () => database.stop();
  const onSignal = async () => {
    await stop();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    console.log(`Migrations applied: ${database.migrations.applied.length}`);
    const env = { LOCAL_DB_URL: database.cluster.url, LOCAL_ADMIN_DB_URL: database.cluster.adminUrl };
    const parallelTrack = async () => {
      if (parallel.length === 0) return;
      await out.write(`\n== deno test: ${parallel.length} files, ${jobs} at a time ==\n`);
      stageResults.deno = await timed(phases, "deno tests", () =>
        runDenoTests({
          files: parallel,
          env: { ...env, TESTS_SHARED_DATABASE: "off" },
          typeCheck: !full,
          jobs,
          live: true,
          title: "deno test",
        }));
    };
    const serialTrack = async () => {
      if (full || sqlTargets.length > 0) {
        stageResults.pgtap = await timed(
          phases,
          "pgTAP",
          () => runPgTap(database.cluster.tools.pgProve, database.cluster.port),
        );
      }
      stageResults["deno/serial"] = await timed(phases, "deno tests", () =>
        runDenoTests({
          files: serial,
          env,
          typeCheck: !full,
          live: false,
          title: `deno test, one file at a time: ${serial.join(" ")}`,
        }));
      if (full) {
        // Supabase's advisors and plpgsql_check lint (the real CLI) read the migrated shared database.
        Object.assign(
          stageResults,
          await timed(
            phases,
            "database checks",
            () => databaseChecks(database.cluster.url, (text) => out.write(text)),
          ),
        );
        for (const [name, args] of Object.entries(STATIC_CHECKS)) {
          stageResults[name] = await timed(phases, "static checks", () => runCheck(name, args));
        }
      }
    };
    await Promise.all([parallelTrack(), serialTrack()]);
  } finally {
    await stop();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  const total = Object.values(stageResults).reduce(
    (sum, r) => ({
      passed: sum.passed + r.passed,
      failed: sum.failed + r.failed,
      skipped: sum.skipped + r.skipped,
    }),
    { passed: 0, failed: 0, skipped: 0 },
  );
  console.log("");
  for (const [stage, r] of Object.entries(stageResults)) {
    console.log(`  ${stage.padEnd(11)} passed ${r.passed}, failed ${r.failed}, skipped ${r.skipped}`);
  }
  const split = Object.entries(phases).map(([name, p]) => `${name} ${seconds(p.end - p.start)}`);
  console.log(`  time: ${[...split, `wall ${seconds(Date.now() - wallStart)}`].join(", ")}`);
  console.log(
    `${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ""}`,
  );
  return total.failed === 0 ? 0 : 1;
}

Deno.exit(
  await main(Deno.args).catch((error) => {
    console.error(`test run aborted: ${(error as Error).message}`);
    console.log("0 passed, 1 failed");
    return 1;
  }),
);
