/**
 * `deno task dev`: the whole system on this machine. A throwaway Postgres set up as hosted Supabase (the
 * stand-ins, pg_cron, the migrations run as the non-superuser `postgres`); the Machines API emulator (or the
 * real API when supabase/functions/.env sets FLY_API_TOKEN); the functions behind a local gateway; the pg_net
 * worker; pg_cron running the health sweep; then the demo seed. Validates the functions' configuration with
 * their own schema before saying "up". Prints the URLs and what to try, runs until Ctrl-C, then stops and
 * removes everything.
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { ConfigError } from "../supabase/functions/_shared/config.ts";
import { startLocalDatabase } from "./local/database.ts";
import { DENO_COMMAND, paths } from "./local/paths.ts";
import { readFunctionsEnvFile, type Services, startServices, validateFunctionEnv } from "./local/stack.ts";
import { type ConsoleServer, DEFAULT_CONSOLE_PORT, startConsoleServer } from "./console/server.ts";

/** Default gateway port: clear of `supabase start` (54321 API ... 54329 pooler). */
const DEFAULT_GATEWAY_PORT = 54380;

/** The seeded users (supabase/seed.sql), on the tiers their names say. */
const DEMO_USERS = {
  pro: "00000000-0000-4000-8000-000000000001",
  elite: "00000000-0000-4000-8000-000000000002",
  free: "00000000-0000-4000-8000-000000000003",
};

const USAGE = `Usage: ${DENO_COMMAND} task dev [-- --env-file PATH] [--help]

Runs the whole system locally until Ctrl-C, then removes everything:
a throwaway PostgreSQL 15 set up like hosted Supabase (pg_cron, Vault, pg_net and auth stand-ins, the
migrations, the demo seed), the Fly Machines API emulator, the four functions behind a gateway at
http://127.0.0.1:<GATEWAY_PORT>/functions/v1/<name>, and the pg_net worker.

Environment:
  GATEWAY_PORT          port of the functions gateway (default ${DEFAULT_GATEWAY_PORT})
  CONSOLE_PORT          port of the operator console (default ${DEFAULT_CONSOLE_PORT})
  DEV_EXIT_AFTER_START  1: stop again right after start (a smoke test)

Options:
  --env-file PATH       the functions' env file (default supabase/functions/.env), as in
                        \`supabase functions serve --env-file\`
  -h, --help            print this help

Function configuration comes from supabase/functions/.env (copy .env.example there; empty values keep the
defaults). It is validated with the functions' own schema before start. With FLY_API_TOKEN set there, the
real Machines API is used instead of the emulator.`;

/** The port a variable names, or its default. */
function portFrom(variable: string, fallback: number): number {
  const raw = Deno.env.get(variable)?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`${variable} must be a TCP port number (1-65535)`);
  }
  return port;
}

/** Fails with one line naming the variable when its port is taken. */
function assertPortFree(port: number, variable: string): void {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `port ${port} (${variable}) is already in use: stop what listens there or set ${variable} to a free port`,
      );
    }
    throw error;
  }
}

/** Both ports, validated and free: GATEWAY_PORT and CONSOLE_PORT. */
function ports(): { gateway: number; console: number } {
  const gateway = portFrom("GATEWAY_PORT", DEFAULT_GATEWAY_PORT);
  const operatorConsole = portFrom("CONSOLE_PORT", DEFAULT_CONSOLE_PORT);
  if (gateway === operatorConsole) throw new Error(`GATEWAY_PORT and CONSOLE_PORT are both ${gateway}`);
  assertPortFree(gateway, "GATEWAY_PORT");
  assertPortFree(operatorConsole, "CONSOLE_PORT");
  return { gateway, console: operatorConsole };
}

async function seed(databaseUrl: string): Promise<void> {
  const text = await Deno.readTextFile(`${paths.root}/supabase/seed.sql`).catch(() => "");
  if (!text) return;
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(text).simple();
  } finally {
    await sql.end({ timeout: 2 });
  }
}

function instructions(
  databaseUrl: string,
  adminUrl: string,
  services: Services,
  operatorConsole: ConsoleServer,
): string {
  const fn = `${services.gatewayUrl}/functions/v1`;
  const secret = services.provisionerSecret;
  const emulator = services.emulator ? ` (emulator; state at ${services.flyApiUrl}/_emulator/state)` : "";
  return `
Local stack is up.
  Database          ${databaseUrl}   (role postgres, as hosted; superuser: ${adminUrl})
  Functions         ${fn}/{provision-user-fly-app,deprovision-user-fly-app,check-fly-apps-health,fly-apps-admin}
  Machines API      ${services.flyApiUrl}${emulator}
  Console   ${operatorConsole.url}   (operator console; proxies the admin API with the key)
  Admin key         ${secret}   (PROVISIONER_SECRET: ops, console, fly-apps-admin; never in the database)
  Kick key          ${services.kickSecret}   (KICK_SECRET: in Vault as fly_kick_secret; background kicks and sweeps only)
  Demo users        pro ${DEMO_USERS.pro}, elite ${DEMO_USERS.elite} (provisioned now), free ${DEMO_USERS.free}

Ops CLI (paste both lines in another terminal; only Node/npm needed):
  export FUNCTIONS_URL=${fn} PROVISIONER_SECRET=${secret} DATABASE_URL=${databaseUrl}${
    services.emulator ? ` FLY_EMULATOR_URL=${services.flyApiUrl}` : ""
  }
  ${DENO_COMMAND} task ops --help

Try this (in that terminal):
  # upgrade the free demo user: the trigger queues the change, the drainer (every second) kicks provisioning
  psql "$DATABASE_URL" -c "update user_subscriptions set tier = 'pro' where user_id = '${DEMO_USERS.free}'"
  # read its state as ops would
  curl -s -H "Authorization: Bearer $PROVISIONER_SECRET" "$FUNCTIONS_URL/provision-user-fly-app?user_id=${DEMO_USERS.free}"
  # or as the app/admin UI would
  psql "$DATABASE_URL" -c "select * from get_user_fly_app_status('${DEMO_USERS.free}')"
  # run a health sweep now (pg_cron also runs it every minute)
  curl -s -X POST -H "Authorization: Bearer $PROVISIONER_SECRET" -H "Content-Type: application/json" -d '{}' "$FUNCTIONS_URL/check-fly-apps-health?wait=true"
  # see it as ops do, then check the whole chain
  ${DENO_COMMAND} task ops show ${DEMO_USERS.free}
  ${DENO_COMMAND} task ops doctor
  # downgrade again: the app is taken away
  psql "$DATABASE_URL" -c "update user_subscriptions set tier = 'free' where user_id = '${DEMO_USERS.free}'"

Press Ctrl-C to stop; everything is removed.
`;
}

async function main(envFile: string | undefined): Promise<void> {
  // Everything that can be wrong with the settings is said before anything starts.
  const port = ports();
  if (envFile !== undefined && !(await Deno.stat(envFile).then((s) => s.isFile, () => false))) {
    throw new Error(`--env-file ${envFile} is not a readable file`);
  }
  const functionEnv = await readFunctionsEnvFile(envFile);
  validateFunctionEnv(functionEnv, port.gateway);
  console.log("Starting the local database...");
  const database = await startLocalDatabase({ log: console.log });
  let services: Services | undefined;
  let consoleServer: ConsoleServer | undefined;
  const stopped = Promise.withResolvers<void>();
  const shutdown = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", shutdown);
  Deno.addSignalListener("SIGTERM", shutdown);
  try {
    console.log(`Migrations applied (as postgres): ${database.migrations.applied.join(", ") || "none"}`);
    assertPortFree(port.gateway, "GATEWAY_PORT");
    services = await startServices({
      databaseUrl: database.cluster.url,
      functionEnv,
      gatewayPort: port.gateway,
      onFunctionOutput: (line) => console.log(`[functions] ${line}`),
    });
    // Seeded once the functions run, so the paid demo users' kicks are answered at once.
    await seed(database.cluster.url);
    consoleServer = await startConsoleServer({
      functionsUrl: `${services.gatewayUrl}/functions/v1`,
      provisionerSecret: services.provisionerSecret,
      actor: Deno.env.get("OPS_ACTOR") || "console",
      port: port.console,
    });
    console.log(instructions(database.cluster.url, database.cluster.adminUrl, services, consoleServer));
    if (Deno.env.get("DEV_EXIT_AFTER_START") === "1") shutdown();
    await stopped.promise;
  } finally {
    console.log("Stopping...");
    await consoleServer?.close();
    await services?.stop();
    await database.stop();
    console.log("Stopped.");
  }
}

/** One line for what a user can fix; the message (never a stack) for anything else. */
function describe(error: unknown): string {
  if (error instanceof ConfigError) {
    const problems = error.problems.map((p) => `${p.variable} ${p.message}`).join("; ");
    return `the functions' configuration is invalid: ${problems}`;
  }
  return (error as Error).message;
}

function parseCommandLine(): { help: boolean; envFile?: string } {
  try {
    const { values } = parseArgs({
      args: Deno.args.filter((arg) => arg !== "--"),
      options: {
        help: { type: "boolean", short: "h", default: false },
        "env-file": { type: "string" },
      },
    });
    return { help: values.help, envFile: values["env-file"] };
  } catch (error) {
    console.error(`dev: ${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
}

const commandLine = parseCommandLine();
if (commandLine.help) {
  console.log(USAGE);
  Deno.exit(0);
}

await main(commandLine.envFile).catch((error) => {
  console.error(`dev: ${describe(error)}`);
  Deno.exit(1);
});
Deno.exit(0);
