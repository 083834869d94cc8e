import { assertEquals } from "../_support/assert.ts";
import { errorOf, SECRET, TEST_ENV, USER_ID } from "./_support.ts";

/** A body each function must reject (so the test reaches the handlers without touching a database). */
const INVALID_BODIES = {
  "provision-user-fly-app": {
    body: JSON.stringify({ user_id: "not-a-uuid", generation: 1 }),
    field: "user_id",
  },
  "deprovision-user-fly-app": {
    body: JSON.stringify({ generation: -1, user_id: USER_ID }),
    field: "generation",
  },
  "check-fly-apps-health": { body: JSON.stringify({ limit: 0 }), field: "limit" },
};

Deno.test("entry points: each function serves its routes from the process environment", async () => {
  const env: Record<string, string> = { ...TEST_ENV, LOG_LEVEL: "warn" };
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, Deno.env.get(key)]));
  for (const [key, value] of Object.entries(env)) Deno.env.set(key, value);
  try {
    for (const [name, { body, field }] of Object.entries(INVALID_BODIES)) {
      const fn = (await import(`../../supabase/functions/${name}/index.ts`))
        .default as Deno.ServeDefaultExport;
      const call = (path: string, auth: string) =>
        fn.fetch(
          new Request(`http://functions.local${path}`, {
            method: "POST",
            body,
            headers: { authorization: auth, "content-type": "application/json" },
          }),
          {} as Deno.ServeHandlerInfo<Deno.NetAddr>,
        );
      for (const path of [`/${name}`, `/functions/v1/${name}`]) {
        const res = await call(path, `Bearer ${SECRET}`);
        assertEquals(res.status, 400, `${name} ${path}`);
        const error = await errorOf(res);
        assertEquals([error.code, error.field], ["invalid_request", field]);
      }
      assertEquals((await call(`/${name}`, "Bearer wrong-secret-value")).status, 401);
    }
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) Deno.env.delete(key);
      else Deno.env.set(key, value);
    }
  }
});
