import { assert, assertEquals } from "../_support/assert.ts";
import { ANON_KEY, errorOf, KICK_SECRET, request, SECRET, testApp, USER_ID } from "./_support.ts";

const body = JSON.stringify({ user_id: USER_ID });
const path = "/provision-user-fly-app";

/** POSTs a valid JSON body with exactly `headers` for credentials (no default bearer). */
async function postWith(headers: Record<string, string>) {
  const { app, calls } = testApp();
  const req = new Request(`http://functions.local${path}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });
  const res = await app.fetch(req);
  return { res, calls };
}

/** Asserts a 401 JSON response that reached no handler and does not echo the secret. */
async function assertUnauthorized(headers: Record<string, string>) {
  const { res, calls } = await postWith(headers);
  assertEquals(res.status, 401);
  assert(res.headers.get("www-authenticate")?.startsWith("Bearer"));
  const text = await res.text();
  assertEquals(JSON.parse(text).error.code, "unauthorized");
  assert(!text.includes(SECRET));
  assertEquals(calls.post.length, 0);
}

Deno.test("auth: no credentials → 401", () => assertUnauthorized({}));

Deno.test("auth: wrong bearer token or apikey → 401", async () => {
  await assertUnauthorized({ authorization: "Bearer not-the-secret-at-all" });
  await assertUnauthorized({ apikey: "not-the-secret-at-all" });
});

Deno.test("auth: the anon key is never enough, in either header", async () => {
  await assertUnauthorized({ authorization: `Bearer ${ANON_KEY}` });
  await assertUnauthorized({ apikey: ANON_KEY });
  await assertUnauthorized({ authorization: `Bearer ${ANON_KEY}`, apikey: ANON_KEY });
});

Deno.test("auth: near misses of the secret → 401", async () => {
  await assertUnauthorized({ authorization: `Bearer ${SECRET}x` });
  await assertUnauthorized({ authorization: `Bearer ${SECRET.slice(0, -1)}` });
  await assertUnauthorized({ authorization: `Basic ${SECRET}` });
  await assertUnauthorized({ authorization: SECRET });
  await assertUnauthorized({ apikey: SECRET.toUpperCase() });
});

Deno.test("auth: secret as bearer token (any case of the scheme) is accepted", async () => {
  for (const scheme of ["Bearer", "bearer"]) {
    const { res, calls } = await postWith({ authorization: `${scheme} ${SECRET}` });
    assertEquals(res.status, 200);
    assertEquals(calls.post.length, 1);
  }
});

Deno.test("auth: secret as apikey is accepted, also next to a bearer anon key", async () => {
  const variants: Record<string, string>[] = [
    { apikey: SECRET },
    { apikey: SECRET, authorization: `Bearer ${ANON_KEY}` },
  ];
  for (const headers of variants) {
    const { res, calls } = await postWith(headers);
    assertEquals(res.status, 200);
    assertEquals(calls.post.length, 1);
  }
});

Deno.test("auth: unknown paths answer 401 before 404 to unauthenticated callers", async () => {
  const { app } = testApp();
  const res = await app.fetch(request("/nope", { headers: { authorization: "" } }));
  assertEquals(res.status, 401);
  assertEquals((await errorOf(res)).code, "unauthorized");
});

Deno.test("auth: GET needs the secret too", async () => {
  const { app, calls } = testApp();
  const res = await app.fetch(
    request(`${path}?user_id=${USER_ID}`, { method: "GET", headers: { authorization: "" } }),
  );
  assertEquals(res.status, 401);
  assertEquals(calls.get.length, 0);
});

/** Sends `method path` with the kick secret to a recording app; returns the status and the calls. */
async function withKick(method: "GET" | "POST", query: string) {
  const { app, calls } = testApp();
  const res = await app.fetch(
    new Request(`http://functions.local${path}${query}`, {
      method,
      body: method === "POST" ? body : undefined,
      headers: { "content-type": "application/json", authorization: `Bearer ${KICK_SECRET}` },
    }),
  );
  return { status: res.status, text: await res.text(), calls };
}

Deno.test("auth: the kick secret opens a background POST only; wait and GET answer 403 and run nothing", async () => {
  for (const query of ["", "?wait=false"]) {
    const { status, calls } = await withKick("POST", query);
    assertEquals([status, calls.post.length], [200, 1], `POST ${query}`);
  }
  for (
    const [method, query] of [["POST", "?wait=true"], ["POST", "?wait=1"], [
      "GET",
      `?user_id=${USER_ID}`,
    ]] as const
  ) {
    const { status, text, calls } = await withKick(method, query);
    assertEquals(status, 403, `${method} ${query}`);
    assertEquals(JSON.parse(text).error.code, "forbidden");
    assert(!text.includes(KICK_SECRET) && !text.includes(SECRET));
    assertEquals(calls.post.length + calls.get.length, 0, `${method} ${query} reached no handler`);
  }
});
