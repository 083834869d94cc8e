/**
 * The console server without a browser: the proxy presents the provisioner secret and the actor itself and
 * drops the credentials a browser sends; `/console.json` reports whether the API has rollouts; missing
 * settings and a taken port are one clear line each.
 */
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { ConsoleConfigError, consoleSettings, startConsoleServer } from "../../scripts/console/server.ts";

/** A stand-in for the functions gateway that records what reaches it. */
function fakeFunctions() {
  const seen: { path: string; method: string; headers: Headers; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const url = new URL(request.url);
    seen.push({
      path: url.pathname + url.search,
      method: request.method,
      headers: request.headers,
      body: await request.text(),
    });
    if (url.pathname.endsWith("/rollouts")) {
      return Response.json({ error: { code: "not_found", message: "no route" } }, { status: 404 });
    }
    return Response.json({ ok: true }, { status: url.pathname.endsWith("/conflict") ? 409 : 200 });
  });
  return { seen, url: `http://127.0.0.1:${server.addr.port}/functions/v1`, close: () => server.shutdown() };
}

Deno.test("the proxy adds the secret and the actor, drops browser credentials, passes status and body", async () => {
  const upstream = fakeFunctions();
  const server = await startConsoleServer({
    functionsUrl: upstream.url,
    provisionerSecret: "s3cret-for-test",
    actor: "ann",
    port: 0,
  });
  try {
    const answer = await fetch(`${server.url}/api/apps/x/hold?wait=1`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: "Bearer browser-token",
        cookie: "a=b",
        apikey: "k",
      },
      body: JSON.stringify({ reason: "r" }),
    });
    assertEquals([answer.status, await answer.json()], [200, { ok: true }]);
    const [call] = upstream.seen;
    assertEquals([call.method, call.path, call.body], [
      "POST",
      "/functions/v1/fly-apps-admin/apps/x/hold?wait=1",
      '{"reason":"r"}',
    ]);
    assertEquals(call.headers.get("authorization"), "Bearer s3cret-for-test");
    assertEquals(call.headers.get("x-actor"), "ann");
    assertEquals([call.headers.get("cookie"), call.headers.get("apikey")], [null, null]);

    const conflict = await fetch(`${server.url}/api/conflict`);
    assertEquals(conflict.status, 409);
    await conflict.body?.cancel();

    const features = await (await fetch(`${server.url}/console.json`)).json();
    assertEquals(features, { rollouts: false });

    const page = await fetch(`${server.url}/`);
    assertEquals(page.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await page.text();
    assert(html.includes("app.js") && !html.includes("s3cret-for-test"));
    const bundle = await (await fetch(`${server.url}/app.js`)).text();
    assert(bundle.length > 10_000 && !bundle.includes("s3cret-for-test"), "the bundle holds no secret");
  } finally {
    await server.close();
    await upstream.close();
  }
});

Deno.test("missing settings and a taken port are one line naming what to set", async () => {
  await assertRejects(
    () => consoleSettings({ PROVISIONER_SECRET: "x" }),
    ConsoleConfigError,
    "FUNCTIONS_URL is not set",
  );
  await assertRejects(
    () => consoleSettings({ FUNCTIONS_URL: "not a url", PROVISIONER_SECRET: "x" }),
    ConsoleConfigError,
    "FUNCTIONS_URL is not a URL",
  );
  const settings = await consoleSettings({
    FUNCTIONS_URL: "http://127.0.0.1:1/functions/v1",
    PROVISIONER_SECRET: "x",
  });
  assertEquals(settings.actor, "console");

  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    await assertRejects(
      () => startConsoleServer({ functionsUrl: "http://127.0.0.1:1", provisionerSecret: "x", port }),
      ConsoleConfigError,
      `port ${port} (CONSOLE_PORT) is already in use`,
    );
  } finally {
    taken.close();
  }
});
