/**
 * `deno task test`: brings up the local database (stand-ins + migrations + pgTAP), runs pg_prove over
 * supabase/tests as `postgres`, `deno test` over tests/ (LOCAL_DB_URL: that database as the hosted project role
 * `postgres`; LOCAL_ADMIN_DB_URL: as the superuser supabase_admin), then the static
 * checks (fmt, lint, check). Ends with one line `N passed, N failed` over everything and exits non-zero on
 * any failure. The database is removed on every path out, Ctrl-C included.
 *
 * While developing, `deno task test PATH...` runs only the given deno test files or folders (pgTAP too when
 * a path lies under supabase/tests), and skips the static checks.
 */
import { startLocalDatabase } from "./local/database.ts";
import { paths } from "./local/paths.ts";
import { databaseChecks } from "./local/supabase_cli.ts";

/** Outcome of one stage. */
interface StageResult {
  passed: number;
  failed: number;
  skipped: number;
}

const stageResults: Record<string, StageResult> = {};

/** Runs a command with inherited stdin, streaming its output while keeping a copy for parsing. */
async function runStreaming(cmd: string, args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(cmd, {
    args,
    cwd: paths.root,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>, sink: typeof Deno.stdout) => {
    for await (const chunk of stream) {
      text += new TextDecoder().decode(chunk);
      await sink.write(chunk);
    }
  };
  await Promise.all([pump(child.stdout, Deno.stdout), pump(child.stderr, Deno.stderr)]);
  return { code: (await child.status).code, text };
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
  const { code, text } = await runStreaming(pgProve, [
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-U",
    "postgres",
    "-d",
    "postgres",
    "--ext",
    ".sql",
    "-r",
    "-v",
    paths.sqlTests,
  ]);
  const passed = (text.match(/^\s*ok \d+/gm) ?? []).length;
  const failed = (text.match(/^\s*not ok \d+/gm) ?? []).length;
  // A file that dies before its plan completes fails without "not ok" lines: count it once.
  return { passed, failed: failed === 0 && code !== 0 ? 1 : failed, skipped: 0 };
}

/**
 * deno test over `targets` (default tests/), counting test cases from deno's closing line. `typeCheck` false
 * skips deno test's own type check (a full run type-checks everything in its static checks anyway).
 */
async function runDenoTests(
  urls: { project: string; admin: string },
  options: { targets: string[]; typeCheck: boolean },
): Promise<StageResult> {
  const { code, text } = await runStreaming(
    Deno.execPath(),
    [
      "test",
      "--allow-all",
      "--permit-no-files",
      ...(options.typeCheck ? [] : ["--no-check"]),
      ...options.targets,
    ],
    { LOCAL_DB_URL: urls.project, LOCAL_ADMIN_DB_URL: urls.admin },
  );
  const summary = text.split("\n").reverse().find((line) => /\d+ passed.*\d+ failed/.test(line)) ?? "";
  const count = (label: string) => Number(new RegExp(`(\\d+) ${label}`).exec(summary)?.[1] ?? 0);
  const result = { passed: count("passed"), failed: count("failed"), skipped: count("ignored") };
  if (code !== 0 && result.failed === 0) result.failed = 1;
  return result;
}

/** A static check counts as one test. */
async function runCheck(args: string[]): Promise<StageResult> {
  const { code } = await runStreaming(Deno.execPath(), args);
  return { passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1, skipped: 0 };
}

async function main(targets: string[]): Promise<number> {
  const sqlTargets = targets.filter((t) => t.startsWith("supabase/tests"));
  const denoTargets = targets.filter((t) => !t.startsWith("supabase/tests"));
  const full = targets.length === 0;
  console.log("Starting the local database...");
  const database = await startLocalDatabase({ withPgTap: true, cronLaunchJobs: false, log: console.log });
  const stop = () => database.stop();
  const onSignal = async () => {
    await stop();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    console.log(`Migrations applied: ${database.migrations.applied.length}`);
    if (full || sqlTargets.length > 0) {
      console.log("\n== pgTAP (supabase/tests) ==");
      stageResults.pgtap = await runPgTap(database.cluster.tools.pgProve, database.cluster.port);
    }
    if (full || denoTargets.length > 0) {
      console.log("\n== deno test ==");
      stageResults.deno = await runDenoTests(
        { project: database.cluster.url, admin: database.cluster.adminUrl },
        { targets: full ? ["tests/"] : denoTargets, typeCheck: !full },
      );
    }
    // Supabase's advisors and plpgsql_check lint (the real CLI) need the database: just before it stops.
    if (full) Object.assign(stageResults, await databaseChecks(database.cluster.url));
  } finally {
    await stop();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  if (full) {
    console.log("\n== static checks ==");
    stageResults.fmt = await runCheck(["fmt", "--check"]);
    stageResults.lint = await runCheck(["lint"]);
    stageResults.check = await runCheck(["check", "scripts/", "supabase/functions/", "tests/"]);
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
    console.log(`  ${stage.padEnd(6)} passed ${r.passed}, failed ${r.failed}, skipped ${r.skipped}`);
  }
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
