/**
 * Runs the Fly Machines API emulator until Ctrl-C:
 * `deno task emulator -- [--port N] [--token T] [--org SLUG] [--latency fast|realistic] [--reserved a,b]
 * [--idle-window-ms N] [--autostop-pass-ms N]`.
 * The token defaults to `FLY_EMULATOR_TOKEN`, then to `fake-fly-token`. `--help` prints the usage.
 */
import { parseArgs } from "node:util";
import { DEFAULT_EMULATOR_TOKEN, startFlyEmulator } from "./mod.ts";

const USAGE = `Usage: deno task emulator -- [options]

Runs the Fly Machines API emulator until Ctrl-C.

Options:
  --port N              port to listen on (default: a free one)
  --token T             bearer token clients must send (default: $FLY_EMULATOR_TOKEN, then ${DEFAULT_EMULATOR_TOKEN})
  --org SLUG            organisation slug (default personal)
  --latency KIND        fast or realistic machine state transitions (default fast)
  --reserved a,b        app names taken by another org (422 name_taken)
  --no-rate-limits      do not enforce the Machines API rate limits
  --idle-window-ms N    the proxy's autostop: idle time before a machine is stopped/suspended (default 300000)
  --autostop-pass-ms N  the proxy's autostop: time between passes (default 60000)
  -h, --help            print this help`;

function parseCommandLine() {
  try {
    return parseArgs({
      args: Deno.args.filter((arg) => arg !== "--"),
      options: {
        port: { type: "string", default: "0" },
        token: { type: "string" },
        org: { type: "string", default: "personal" },
        latency: { type: "string", default: "fast" },
        reserved: { type: "string", default: "" },
        "no-rate-limits": { type: "boolean", default: false },
        "idle-window-ms": { type: "string", default: "300000" },
        "autostop-pass-ms": { type: "string", default: "60000" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
}

const values = parseCommandLine();
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}

if (values.latency !== "fast" && values.latency !== "realistic") {
  console.error(`--latency must be fast or realistic, not ${values.latency}`);
  Deno.exit(2);
}

const emulator = await startFlyEmulator({
  port: Number(values.port),
  token: values.token ?? Deno.env.get("FLY_EMULATOR_TOKEN") ?? DEFAULT_EMULATOR_TOKEN,
  orgSlug: values.org,
  latency: values.latency,
  reservedNames: values.reserved.split(",").filter(Boolean),
  rateLimits: !values["no-rate-limits"],
  proxy: {
    idleWindowMs: Number(values["idle-window-ms"]),
    passIntervalMs: Number(values["autostop-pass-ms"]),
  },
});
console.log(
  `Fly Machines API emulator listening on ${emulator.url} (org ${emulator.orgSlug}, ${values.latency} latency)`,
);
console.log(`  FLY_API_BASE_URL=${emulator.url}  state: ${emulator.url}/_emulator/state`);
console.log(`  {app}.fly.dev through the proxy: ${emulator.url}/_proxy/{app}/`);

const stop = async () => {
  await emulator.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
