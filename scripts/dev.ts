/**
 * `deno task dev`: the whole system on this machine. A throwaway Postgres with the Supabase stand-ins, the
 * migrations and a demo seed; the Machines API emulator (or the real API when supabase/functions/.env sets
 * FLY_API_TOKEN); the functions behind a local gateway; the pg_net worker; pg_cron running the health sweep.
 * Prints the URLs and what to try, runs until Ctrl-C, then stops and removes everything.
 */
import postgres from "postgres";
import { startLocalDatabase } from "./local/database.ts";
import { paths } from "./local/paths.ts";
import { readFunctionsEnvFile, startServices } from "./local/stack.ts";

const DEMO_USER = "00000000-0000-4000-8000-000000000001";

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
  gatewayUrl: string,
  flyApiUrl: string,
  secret: string,
  emulator: boolean,
) {
  const fn = `${gatewayUrl}/functions/v1`;
  return `
Local stack is up.
  Database          ${databaseUrl}
  Functions         ${fn}/{provision-user-fly-app,deprovision-user-fly-app,check-fly-apps-health,fly-apps-admin}
  Machines API      ${flyApiUrl}${emulator ? " (emulator; state at " + flyApiUrl + "/_emulator/state)" : ""}
  Provisioner key   ${secret}

Ops CLI (paste in another terminal, then: deno task ops --help):
  export FUNCTIONS_URL=${fn} PROVISIONER_SECRET=${secret}

Try this (in another terminal):
  # upgrade the demo user: the trigger records the desired state and kicks provisioning
  psql ${databaseUrl} -c "update user_subscriptions set tier = 'pro' where user_id = '${DEMO_USER}'"
  # read its state as ops would
  curl -s -H "Authorization: Bearer ${secret}" "${fn}/provision-user-fly-app?user_id=${DEMO_USER}"
  # or as the app/admin UI would
  psql ${databaseUrl} -c "select * from get_user_fly_app_status('${DEMO_USER}')"
  # run a health sweep now (pg_cron also runs it every minute)
  curl -s -X POST -H "Authorization: Bearer ${secret}" -H "Content-Type: application/json" -d '{}' "${fn}/check-fly-apps-health?wait=true"
  # downgrade again: the app is taken away
  psql ${databaseUrl} -c "update user_subscriptions set tier = 'free' where user_id = '${DEMO_USER}'"

Press Ctrl-C to stop; everything is removed.
`;
}

async function main() {
  console.log("Starting the local database...");
  const database = await startLocalDatabase({ log: console.log });
  let services: Awaited<ReturnType<typeof startServices>> | undefined;
  const stopped = Promise.withResolvers<void>();
  const shutdown = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", shutdown);
  Deno.addSignalListener("SIGTERM", shutdown);
  try {
    console.log(`Migrations applied: ${database.migrations.applied.join(", ") || "none"}`);
    await seed(database.cluster.url);
    services = await startServices({
      databaseUrl: database.cluster.url,
      functionEnv: await readFunctionsEnvFile(),
      gatewayPort: Number(Deno.env.get("GATEWAY_PORT") ?? 54321),
      onFunctionOutput: (line) => console.log(`[functions] ${line}`),
    });
    console.log(instructions(
      database.cluster.url,
      services.gatewayUrl,
      services.flyApiUrl,
      services.provisionerSecret,
      Boolean(services.emulator),
    ));
    if (Deno.env.get("DEV_EXIT_AFTER_START") === "1") shutdown();
    await stopped.promise;
  } finally {
    console.log("Stopping...");
    await services?.stop();
    await database.stop();
    console.log("Stopped.");
  }
}

await main().catch((error) => {
  console.error(`dev stack failed: ${(error as Error).message}`);
  Deno.exit(1);
});
Deno.exit(0);
