/**
 * The real Supabase CLI, pinned: `supabase@2.117.0` from npm. Its Go binary ships inside the npm package (the
 * platform package, e.g. `@supabase/cli-linux-x64`, is an optional dependency; no postinstall script fetches
 * anything), so `npx --yes supabase@2.117.0` runs it from the npm cache with nothing downloaded outside npm.
 *
 * What the local stack uses it for, always with `--db-url` on a local URL (`?sslmode=disable`):
 *   * {@link dbPush}: `supabase db push` applies pending migrations and records them in
 *     `supabase_migrations.schema_migrations`, and upserts the `[db.vault]` secrets of supabase/config.toml
 *     from the project-root `.env` (absent locally: `--skip-vault`, the local stack writes Vault itself);
 *   * {@link dbAdvisors}: `supabase db advisors` (Supabase's security and performance linter);
 *   * {@link dbLint}: `supabase db lint` (plpgsql_check over every PL/pgSQL function).
 * The project's own runner (scripts/local/migrate.ts) remains only where the CLI cannot serve: see there.
 */
import { paths } from "./paths.ts";
import { run, runOrThrow, type RunResult } from "./process.ts";

/** The pinned CLI release (npm package `supabase`). */
export const SUPABASE_CLI_VERSION = "2.117.0";

/** A local Postgres URL as the CLI wants it: TLS off (local clusters have no certificate). */
export function cliDbUrl(url: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}sslmode=disable`;
}

/** Runs the pinned CLI in the project folder; never throws on a non-zero exit. */
export function supabase(args: string[], options: { workdir?: string } = {}): Promise<RunResult> {
  return run("npx", [
    "--yes",
    `supabase@${SUPABASE_CLI_VERSION}`,
    ...args,
    "--workdir",
    options.workdir ?? paths.root,
  ], {
    env: { SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1", NO_COLOR: "1" },
  });
}

async function fileExists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Options for {@link dbPush}. */
export interface PushOptions {
  /** A project folder holding `supabase/` (default: this repository). */
  workdir?: string;
}

/**
 * `supabase db push --db-url <url> --include-all --yes`: applies pending migrations as the CLI does for a
 * hosted project. Vault secrets are upserted only when the project-root `.env` exists (otherwise
 * `--skip-vault`). Throws with the CLI's output when it fails; returns its output.
 */
export async function dbPush(url: string, options: PushOptions = {}): Promise<string> {
  const workdir = options.workdir ?? paths.root;
  const args = ["db", "push", "--db-url", cliDbUrl(url), "--include-all", "--yes"];
  if (!(await fileExists(`${workdir}/.env`))) args.push("--skip-vault");
  const result = await supabase(args, { workdir });
  if (result.code !== 0) {
    throw new Error(
      `supabase db push failed (exit ${result.code}):\n${(result.stderr + result.stdout).trim()}`,
    );
  }
  return (result.stdout + result.stderr).trim();
}

/** `supabase db advisors --db-url <url> --fail-on warn`: Supabase's security and performance advisors. */
export function dbAdvisors(url: string): Promise<RunResult> {
  return supabase(["db", "advisors", "--db-url", cliDbUrl(url), "--type", "all", "--fail-on", "warn"]);
}

/** `supabase db lint --db-url <url> --schema public,private --fail-on error`: plpgsql_check. */
export function dbLint(url: string, schemas = ["public", "private"]): Promise<RunResult> {
  return supabase([
    "db",
    "lint",
    "--db-url",
    cliDbUrl(url),
    "--schema",
    schemas.join(","),
    "--fail-on",
    "error",
  ]);
}

/** Makes sure the pinned CLI is in the npm cache (first run only downloads it, from npm). */
export async function ensureSupabaseCli(): Promise<void> {
  await runOrThrow("npx", ["--yes", `supabase@${SUPABASE_CLI_VERSION}`, "--version"]);
}

/** One counted check of `deno task test`'s summary. */
export interface CheckResult {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * `deno task test`'s database checks: `supabase db advisors --fail-on warn` and `supabase db lint --fail-on
 * error` against the test database, each counted as one check; `print` gets each one's output in one piece
 * (default: the console), so it stays whole next to other output.
 */
export async function databaseChecks(
  url: string,
  print: (text: string) => unknown = (text) => console.log(text),
): Promise<Record<string, CheckResult>> {
  const results: Record<string, CheckResult> = {};
  for (const [name, check] of [["advisors", dbAdvisors], ["dblint", dbLint]] as const) {
    const { code, stdout, stderr } = await check(url);
    const verdict = code === 0 ? "passed" : `failed (exit ${code})`;
    await print(
      `\n== supabase db ${name === "dblint" ? "lint" : name}: ${verdict} ==\n${(stdout + stderr).trim()}\n`,
    );
    results[name] = { passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1, skipped: 0 };
  }
  return results;
}
