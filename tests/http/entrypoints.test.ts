import { assertEquals } from "../_support/assert.ts";
import { errorOf, SECRET, TEST_ENV, USER_ID } from "./_support.ts";

const FUNCTIONS = {
  "provision-user-fly-app": JSON.stringify({ user_id: USER_ID, generation: 1 }),
  "deprovision-user-fly-app": JSON.stringify({ user_id: USER_ID }),
  "check-fly-apps-health": JSON.stringify({ limit: 5 }),
};

Deno.test("entry points: each function serves its routes from the process environment", async () => {
  const env: Record<string, string> = { ...TEST_ENV, LOG_LEVEL: "warn" };
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, Deno.env.get(key)]));
  for (const [key, value] of Object.entries(env)) Deno.env.set(key, value);
  try {
    for (const [name, body] of Object.entries(FUNCTIONS)) {
      const fn = (await import(`../../supabase/functions/${name}/index.ts`))
        .default as Deno.ServeDefaultExport;
      const call = (path: string, auth: string) =>
        fn.fetch(
          new Request(`http://functions.local${path}`, {
            method: "POST",
            body,
            headers: { authorization: auth },
          }),
          {} as Deno.ServeHandlerInfo<Deno.NetAddr>,
        );
      for (const path of [`/${name}`, `/functions/v1/${name}`]) {
        const res = await call(path, `Bearer ${SECRET}`);
        assertEquals(res.status, 501, `${name} ${path}`);
        assertEquals((await errorOf(res)).code, "not_implemented");
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
