/**
 * The console server without a browser: the proxy presents the provisioner secret and the actor itself and
 * drops the credentials a browser sends; `/console.json` reports whether the API has rollouts; another
 * site's requests (cross-site posts as a page or a form sends them, a DNS-rebinding page's foreign `Host`)
 * are 403 and reach nothing, while the page's own (same origin, token, JSON) pass; every answer carries the
 * security headers; missing settings and a taken port are one clear line each.
 */
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import {
  ConsoleConfigError,
  type ConsoleServer,
  consoleSettings,
  startConsoleServer,
} from "../../scripts/console/server.ts";
import { TOKEN_HEADER, TOKEN_PATH } from "../../console/src/session.ts";
import { rawRequest } from "./_raw_http.ts";

/** A user id for the proxied paths. */
const USER = "00000000-0000-4000-8000-000000000001";

/** The token the console's page reads. */
async function tokenOf(server: ConsoleServer): Promise<string> {
  return (await (await fetch(`${server.url}${TOKEN_PATH}`)).json()).token;
}

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
        origin: server.url,
        "sec-fetch-site": "same-origin",
        [TOKEN_HEADER]: await tokenOf(server),
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
    assertEquals(call.headers.get(TOKEN_HEADER), null, "the token stays between the page and its server");
    assertEquals(answer.headers.get("cross-origin-resource-policy"), "same-origin");

    const conflict = await fetch(`${server.url}/api/conflict`);
    assertEquals(conflict.status, 409);
    await conflict.body?.cancel();

    const features = await (await fetch(`${server.url}/console.json`)).json();
    assertEquals(features, { rollouts: false });

    const page = await fetch(`${server.url}/`);
    assertEquals(page.headers.get("content-type"), "text/html; charset=utf-8");
    assertEquals(page.headers.get("x-frame-options"), "DENY");
    const csp = page.headers.get("content-security-policy") ?? "";
    for (const rule of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"]) {
      assert(csp.includes(rule), `CSP ${csp} lacks ${rule}`);
    }
    const html = await page.text();
    assert(html.includes("app.js") && !html.includes("s3cret-for-test"));
    const bundle = await (await fetch(`${server.url}/app.js`)).text();
    assert(bundle.length > 10_000 && !bundle.includes("s3cret-for-test"), "the bundle holds no secret");
  } finally {
    await server.close();
    await upstream.close();
  }
});

Deno.test("another site's requests are 403 and reach nothing; the page's own pass", async () => {
  const upstream = fakeFunctions();
  const server = await startConsoleServer({
    functionsUrl: upstream.url,
    provisionerSecret: "s3cret",
    port: 0,
  });
  const evil = "https://evil.example";
  const post = (path: string, headers: Record<string, string>, body: string) =>
    rawRequest(`${server.url}${path}`, { method: "POST", headers, body });
  try {
    const token = await tokenOf(server);
    const refused = {
      // The three requests: a page of another site posting text/plain, the same for a rollout, and
      // a DNS-rebinding page reading through its own host name.
      "cross-site text/plain hold": await post(
        `/api/apps/${USER}/hold`,
        { origin: evil, "content-type": "text/plain" },
        '{"reason":"csrf"}',
      ),
      "cross-site text/plain rollout": await post(
        "/api/rollouts",
        { origin: evil, "content-type": "text/plain" },
        '{"image":"registry.fly.io/evil:latest","canary":1}',
      ),
      "foreign Host read": await rawRequest(`${server.url}/api/apps?limit=1`, {
        headers: { host: "evil.example:1234" },
      }),
      "foreign Host reading the token": await rawRequest(`${server.url}${TOKEN_PATH}`, {
        headers: { host: "evil.example:1234" },
      }),
      // What Chromium sends for `fetch(…, {mode: "no-cors", method: "POST"})` or an auto-submitted form.
      "no-cors form post": await post(`/api/apps/${USER}/hold`, {
        origin: evil,
        "sec-fetch-site": "cross-site",
        "sec-fetch-mode": "navigate",
        "content-type": "application/x-www-form-urlencoded",
      }, "reason=csrf"),
      // The same form from a browser that sends neither Origin nor Sec-Fetch-Site: no token, no JSON.
      "bare form post": await post(
        `/api/apps/${USER}/hold`,
        { "content-type": "application/x-www-form-urlencoded" },
        "reason=csrf",
      ),
      "another port of the same host": await post("/api/retry", {
        origin: "http://127.0.0.1:1",
        "sec-fetch-site": "same-site",
        "content-type": "application/json",
        [TOKEN_HEADER]: token,
      }, '{"statuses":["error"]}'),
      "opaque origin": await post(
        "/api/retry",
        { origin: "null", "content-type": "application/json", [TOKEN_HEADER]: token },
        "{}",
      ),
      "cross-site read of the token": await rawRequest(`${server.url}${TOKEN_PATH}`, {
        headers: { "sec-fetch-site": "cross-site" },
      }),
      "JSON without the token": await post("/api/retry", { "content-type": "application/json" }, "{}"),
      "JSON with a wrong token": await post(
        "/api/retry",
        { "content-type": "application/json", [TOKEN_HEADER]: `${token.slice(1)}x` },
        "{}",
      ),
      "the token on text/plain": await post(
        "/api/retry",
        { "content-type": "text/plain", [TOKEN_HEADER]: token },
        "{}",
      ),
    };
    for (const [name, answer] of Object.entries(refused)) {
      assertEquals(answer.status, 403, `${name}: ${answer.body}`);
      assert(JSON.parse(answer.body).error.code, `${name}: a JSON error`);
      assert(!answer.body.includes(token), `${name}: the answer holds no token`);
    }
    assertEquals(upstream.seen, [], "nothing was forwarded");

    const own = await post(`/api/apps/${USER}/hold`, {
      origin: server.url,
      "sec-fetch-site": "same-origin",
      "content-type": "application/json",
      [TOKEN_HEADER]: token,
    }, '{"reason":"mine"}');
    assertEquals(own.status, 200, own.body);
    const read = await rawRequest(`${server.url}/api/apps?limit=1`, {
      headers: { "sec-fetch-site": "same-origin" },
    });
    assertEquals(read.status, 200, read.body);
    assertEquals(upstream.seen.map((call) => call.method), ["POST", "GET"]);
  } finally {
    await server.close();
    await upstream.close();
  }
});

Deno.test("behind a proxy: the public URL's host, origin and X-Actor are accepted, still with the token", async () => {
  const upstream = fakeFunctions();
  const server = await startConsoleServer({
    functionsUrl: upstream.url,
    provisionerSecret: "s3cret",
    port: 0,
    publicUrl: "https://console.example.com",
  });
  try {
    const headers = { host: "console.example.com", origin: "https://console.example.com" };
    const token = JSON.parse((await rawRequest(`${server.url}${TOKEN_PATH}`, { headers })).body).token;
    const body = '{"reason":"r"}';
    const hold = (extra: Record<string, string>) =>
      rawRequest(`${server.url}/api/apps/${USER}/hold`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", ...extra },
        body,
      });
    assertEquals((await hold({})).status, 403);
    assertEquals((await hold({ [TOKEN_HEADER]: token, "x-actor": "ann@example.com" })).status, 200);
    assertEquals(upstream.seen.map((call) => call.headers.get("x-actor")), ["ann@example.com"]);
    // At its own address (not through the proxy) a browser's X-Actor is dropped.
    const direct = await fetch(`${server.url}/api/apps/${USER}/hold`, {
      method: "POST",
      headers: { "content-type": "application/json", [TOKEN_HEADER]: token, "x-actor": "mallory" },
      body,
    });
    assertEquals(direct.status, 200);
    await direct.body?.cancel();
    assertEquals(upstream.seen.map((call) => call.headers.get("x-actor")), ["ann@example.com", "console"]);
  } finally {
    await server.close();
    await upstream.close();
  }
  await assertRejects(
    () =>
      consoleSettings({
        FUNCTIONS_URL: "http://127.0.0.1:1/functions/v1",
        PROVISIONER_SECRET: "x",
        CONSOLE_PUBLIC_URL: "console.example.com",
      }),
    ConsoleConfigError,
    "CONSOLE_PUBLIC_URL must be",
  );
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
