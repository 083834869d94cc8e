import { createHash } from "node:crypto";
import { assert, assertEquals } from "../_support/assert.ts";
import { appSecretsDigest, appSecretValues } from "../../supabase/functions/_shared/engine/app_secrets.ts";

Deno.test("app secrets: the map follows the configured sources", () => {
  assertEquals(
    appSecretValues([
      { name: "SUPABASE_URL", envVar: "SUPABASE_URL", value: "http://x" },
      { name: "SUPABASE_KEY", envVar: "APP_SUPABASE_KEY", value: "k" },
    ]),
    { SUPABASE_URL: "http://x", SUPABASE_KEY: "k" },
  );
  assertEquals(appSecretValues([]), {});
});

Deno.test("app secrets: digest is SHA-256 hex of the sorted [name, value] pairs as JSON", async () => {
  const expected = createHash("sha256").update(JSON.stringify([["A", "1"], ["B", "2"]])).digest("hex");
  assertEquals(await appSecretsDigest({ B: "2", A: "1" }), expected);
  assert(/^[0-9a-f]{64}$/.test(expected));
});

Deno.test("app secrets: digest is order-independent and stable", async () => {
  const a = await appSecretsDigest({ OPENAI_API_KEY: "sk-1", SUPABASE_URL: "http://x", Z: "" });
  assertEquals(await appSecretsDigest({ Z: "", SUPABASE_URL: "http://x", OPENAI_API_KEY: "sk-1" }), a);
  assertEquals(await appSecretsDigest({ SUPABASE_URL: "http://x", Z: "", OPENAI_API_KEY: "sk-1" }), a);
});

Deno.test("app secrets: digest changes with any name or value, and is unambiguous", async () => {
  const base = await appSecretsDigest({ A: "1", B: "2" });
  const variants: Record<string, string>[] = [
    { A: "1", B: "3" },
    { A: "1", C: "2" },
    { A: "1" },
    { A: "1", B: "2", C: "" },
    { "A=1": "", B: "2" },
  ];
  const digests = await Promise.all(variants.map((v) => appSecretsDigest(v)));
  assertEquals(new Set([base, ...digests]).size, variants.length + 1);
  assert(await appSecretsDigest({ a: "b,c" }) !== await appSecretsDigest({ "a,b": "c" }));
});
