/** The functions gateway routes /functions/v1/<name> to that function, like Supabase's gateway. */
import { assertEquals } from "../_support/assert.ts";
import { createGatewayHandler, type EdgeFunction } from "../../scripts/local/functions_gateway.ts";
import { startFunctionsGateway } from "../../scripts/local/gateway_process.ts";

const echo = (name: string): EdgeFunction => ({
  fetch: (request) => {
    const url = new URL(request.url);
    return Response.json({ name, path: url.pathname, search: url.search, method: request.method });
  },
});

Deno.test("gateway handler routes by function name and rewrites the path the runtime way", async () => {
  const handler = createGatewayHandler(new Map([["alpha", echo("alpha")], ["beta", echo("beta")]]));
  const alpha = await handler(
    new Request("http://x/functions/v1/alpha/status?wait=true", { method: "POST" }),
  );
  assertEquals(await alpha.json(), {
    name: "alpha",
    path: "/alpha/status",
    search: "?wait=true",
    method: "POST",
  });
  const beta = await handler(new Request("http://x/functions/v1/beta"));
  assertEquals((await beta.json()).name, "beta");
});

Deno.test("gateway handler answers 404 for an unknown function or a path outside /functions/v1", async () => {
  const handler = createGatewayHandler(new Map([["alpha", echo("alpha")]]));
  for (const path of ["/functions/v1/gamma", "/functions/v1/", "/alpha", "/rest/v1/alpha"]) {
    const response = await handler(new Request(`http://x${path}`));
    assertEquals(response.status, 404, path);
    assertEquals((await response.json()).code, "NOT_FOUND");
  }
});

Deno.test("gateway process serves a function folder with the given environment and EdgeRuntime", async () => {
  const dir = await Deno.makeTempDir({ prefix: "functions-" });
  await Deno.mkdir(`${dir}/hello`);
  await Deno.mkdir(`${dir}/_shared`);
  await Deno.writeTextFile(`${dir}/_shared/index.ts`, "export default {};");
  await Deno.writeTextFile(
    `${dir}/hello/index.ts`,
    `export default {
      fetch: (request: Request) => Response.json({
        path: new URL(request.url).pathname,
        supabaseUrl: Deno.env.get("SUPABASE_URL"),
        leaked: Deno.env.get("LOCAL_DB_URL") ?? null,
        edgeRuntime: typeof (globalThis as { EdgeRuntime?: unknown }).EdgeRuntime,
      }),
    };`,
  );
  const lines: string[] = [];
  const gateway = await startFunctionsGateway({
    functionsDir: dir,
    env: { SUPABASE_URL: "http://127.0.0.1:1" },
    onOutput: (line) => lines.push(line),
  });
  try {
    const response = await fetch(`${gateway.url}/functions/v1/hello`);
    assertEquals(await response.json(), {
      path: "/hello",
      supabaseUrl: "http://127.0.0.1:1",
      leaked: null,
      edgeRuntime: "object",
    });
    const unknown = await fetch(`${gateway.url}/functions/v1/_shared`);
    assertEquals(unknown.status, 404);
    await unknown.body?.cancel();
  } finally {
    await gateway.stop();
    await Deno.remove(dir, { recursive: true });
  }
  assertEquals(lines.some((line) => line.includes("listening")), true);
});
