/**
 * A throwaway PostgreSQL 15 cluster: its own data directory under a temp dir, a free port, pg_cron preloaded.
 * Its bootstrap superuser is `supabase_admin`, as on hosted Supabase; the `postgres` role (created by the
 * stand-ins, not a superuser) is what migrations, functions and tests use. Started as the `postgres` OS user
 * when we are root (initdb refuses root). Always removed on stop.
 */
import { ensurePostgresTools, type PostgresTools } from "./prerequisites.ts";
import { freePort, isRoot, run, runOrThrow } from "./process.ts";

/** Options for {@link startPostgres}. */
export interface PostgresOptions {
  /** Progress output. */
  log?: (line: string) => void;
}

/** The superuser that owns the platform schemas (auth, vault, net, cron), as on hosted Supabase. */
export const ADMIN_ROLE = "supabase_admin";
/** The role hosted Supabase gives projects: migrations, SQL editor, `SUPABASE_DB_URL`. Not a superuser. */
export const PROJECT_ROLE = "postgres";

/** Whose connection a URL is for: the project's `postgres` role (default) or the superuser. */
export type ClusterRole = "project" | "admin";

/** A running throwaway cluster. */
export interface PostgresCluster {
  /** URL of the `postgres` database (where pg_cron lives) as the project role `postgres`, as hosted. */
  url: string;
  /** URL of the `postgres` database as the superuser `supabase_admin` (bootstrap and scratch databases). */
  adminUrl: string;
  /** URL of a database of this cluster, as the project role unless `role` is "admin". */
  urlFor(database: string, role?: ClusterRole): string;
  host: string;
  port: number;
  tools: PostgresTools;
  /** Stops the server and deletes the data directory. Safe to call twice. */
  stop(): Promise<void>;
}

const OS_USER = "postgres";

function asPostgresUser(cmd: string, args: string[]): [string, string[]] {
  return isRoot() ? ["runuser", ["-u", OS_USER, "--", cmd, ...args]] : [cmd, args];
}

/** Resolves once the server accepts connections; throws if it exits or is not up within 30 s. */
async function waitUntilReady(tools: PostgresTools, port: number, server: Deno.ChildProcess): Promise<void> {
  let exited = false;
  server.status.then(() => exited = true);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !exited) {
    const probe = await run(`${tools.binDir}/pg_isready`, ["-q", "-h", "127.0.0.1", "-p", String(port)]);
    if (probe.code === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    exited ? "the server exited during startup" : "the server did not accept connections within 30 s",
  );
}

/** Creates, configures and starts a cluster; cleans up if any step fails. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresCluster> {
  const log = options.log ?? (() => {});
  const tools = await ensurePostgresTools(log);
  const root = await Deno.makeTempDir({ prefix: "fly-provisioner-pg-" });
  const dataDir = `${root}/data`;
  const port = freePort();
  let server: Deno.ChildProcess | undefined;

  // The server is our child process (not daemonized by pg_ctl), so we reap it and no zombie is left.
  const stop = async () => {
    if (server) {
      const exited = server.status;
      server = undefined;
      await run(...asPostgresUser(tools.pgCtl, ["-D", dataDir, "-m", "immediate", "-w", "stop"]));
      await exited;
    }
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };

  try {
    if (isRoot()) await runOrThrow("chown", [OS_USER, root]);
    await runOrThrow(...asPostgresUser(tools.initdb, [
      "-D",
      dataDir,
      "-U",
      ADMIN_ROLE,
      "--auth=trust",
      "--encoding=UTF8",
      "--no-locale",
      "--no-sync",
    ]));
    const settings = {
      listen_addresses: "'127.0.0.1'",
      port: String(port),
      unix_socket_directories: `'${root}'`,
      shared_preload_libraries: "'pg_cron'",
      "cron.database_name": "'postgres'",
      "cron.host": `'${root}'`,
      max_connections: "200",
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off",
      log_min_messages: "warning",
    };
    const conf = Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join("\n");
    await Deno.writeTextFile(`${dataDir}/postgresql.conf`, `\n${conf}\n`, { append: true });
    const [cmd, args] = asPostgresUser(`${tools.binDir}/postgres`, ["-D", dataDir]);
    server = new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "piped" }).spawn();
    const serverLog = await Deno.open(`${root}/server.log`, { write: true, create: true });
    server.stderr.pipeTo(serverLog.writable).catch(() => {});
    await waitUntilReady(tools, port, server);
  } catch (error) {
    const serverLog = await Deno.readTextFile(`${root}/server.log`).catch(() => "");
    await stop();
    const tail = serverLog.trim().split("\n").slice(-10).join("\n");
    throw new Error(`could not start PostgreSQL: ${(error as Error).message}${tail ? `\n${tail}` : ""}`);
  }
  log(`PostgreSQL ${port} started (data in ${dataDir})`);

  const urlFor = (database: string, role: ClusterRole = "project") =>
    `postgres://${role === "admin" ? ADMIN_ROLE : PROJECT_ROLE}@127.0.0.1:${port}/${database}`;
  return {
    url: urlFor("postgres"),
    adminUrl: urlFor("postgres", "admin"),
    urlFor,
    host: "127.0.0.1",
    port,
    tools,
    stop,
  };
}
