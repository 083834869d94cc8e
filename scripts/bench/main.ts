/**
 * `deno task bench`: brings up the local database, then runs every benchmark script of this folder in turn
 * (each prints its own figures), with LOCAL_DB_URL set. Benchmarks print numbers; they do not pass or fail
 * on thresholds. Pass script names to run only those: `deno task bench fly_client`. Files starting with `_`
 * are shared helpers, not benchmarks.
 */
import { startLocalDatabase } from "../local/database.ts";

const here = new URL(".", import.meta.url).pathname;

async function benchmarkScripts(): Promise<string[]> {
  const wanted = new Set(Deno.args);
  const scripts = [];
  for await (const entry of Deno.readDir(here)) {
    const name = entry.name.replace(/\.ts$/, "");
    if (!entry.isFile || !entry.name.endsWith(".ts") || name === "main" || name.startsWith("_")) continue;
    if (wanted.size === 0 || wanted.has(name)) scripts.push(entry.name);
  }
  return scripts.sort();
}

const database = await startLocalDatabase({ cronLaunchJobs: false });
let failures = 0;
try {
  for (const script of await benchmarkScripts()) {
    console.log(`\n== ${script} ==`);
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${here}${script}`],
      env: {
        LOCAL_DB_URL: database.cluster.url,
        LOCAL_ADMIN_DB_URL: database.cluster.adminUrl,
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) failures++;
  }
} finally {
  await database.stop();
}
Deno.exit(failures === 0 ? 0 : 1);
