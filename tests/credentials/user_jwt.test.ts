/** The scoped user credential: signing with either key form, its claims, the re-mint rule, config errors. */
import { decodeProtectedHeader, jwtVerify } from "jose";
import nodeAssert from "node:assert/strict";
import { ConfigError, configSecrets, loadConfig } from "../../supabase/functions/_shared/config.ts";
import { importSigningKey } from "../../supabase/functions/_shared/credentials/signing_key.ts";
import {
  MACHINE_CREDENTIAL_CLAIM,
  mintUserJwt,
  needsRemint,
} from "../../supabase/functions/_shared/credentials/user_jwt.ts";
import { assert, assertEquals } from "../_support/assert.ts";
import { TEST_ENV } from "../http/_support.ts";
import { es256Key, LEGACY_SECRET } from "./_keys.ts";

const USER_ID = "6f1c3b9e-0000-4000-8000-000000000001";
const DAY = 86_400;

function problemsOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    nodeAssert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  throw new Error("expected a ConfigError");
}

Deno.test("user jwt: HS256 with the legacy secret verifies and carries the Supabase claims", async () => {
  const config = loadConfig({ ...TEST_ENV, USER_JWT_SIGNING_KEY: LEGACY_SECRET });
  assertEquals(config.userJwt?.secretName, "SUPABASE_USER_JWT");
  assertEquals(config.userJwt?.ttlSeconds, 90 * DAY);
  const key = await importSigningKey(config.userJwt!.signingKey);
  const now = new Date("2026-11-30T00:00:00Z");
  const minted = await mintUserJwt({
    key,
    supabaseUrl: `${TEST_ENV.SUPABASE_URL}/`,
    userId: USER_ID,
    ttlSeconds: config.userJwt!.ttlSeconds,
    now,
  });
  const { payload, protectedHeader } = await jwtVerify(
    minted.token,
    new TextEncoder().encode(LEGACY_SECRET),
    {
      issuer: `${TEST_ENV.SUPABASE_URL}/auth/v1`,
      audience: "authenticated",
      currentDate: now,
    },
  );
  assertEquals(protectedHeader, { alg: "HS256", typ: "JWT" });
  assertEquals(
    [payload.sub, payload.role, payload.aud, payload[MACHINE_CREDENTIAL_CLAIM]],
    [USER_ID, "authenticated", "authenticated", true],
  );
  assertEquals(payload.iat, now.getTime() / 1000);
  assertEquals(payload.exp, now.getTime() / 1000 + 90 * DAY);
  assertEquals(minted.expiresAt, "2027-02-28T00:00:00.000Z");
  assert(/^hs256:[0-9a-f]{16}$/.test(minted.keyId), minted.keyId);
  assert(!minted.keyId.includes(LEGACY_SECRET.slice(0, 8)), "the key id is a fingerprint, not the secret");
  await nodeAssert.rejects(
    jwtVerify(minted.token, new TextEncoder().encode(`${LEGACY_SECRET}-other`), { currentDate: now }),
    "another secret does not verify it",
  );
});

Deno.test("user jwt: an imported ES256 private JWK signs with its kid; the public key verifies", async () => {
  const { privateJwk, publicKey } = await es256Key("kid-2026-11");
  const config = loadConfig({
    ...TEST_ENV,
    USER_JWT_SIGNING_KEY: JSON.stringify(privateJwk),
    USER_JWT_TTL_SECONDS: "3600",
    USER_JWT_SECRET_NAME: "APP_USER_TOKEN",
  });
  const key = await importSigningKey(config.userJwt!.signingKey);
  const minted = await mintUserJwt({
    key,
    supabaseUrl: TEST_ENV.SUPABASE_URL,
    userId: USER_ID,
    ttlSeconds: 3600,
  });
  assertEquals(decodeProtectedHeader(minted.token), { alg: "ES256", typ: "JWT", kid: "kid-2026-11" });
  const { payload } = await jwtVerify(minted.token, publicKey, { audience: "authenticated" });
  assertEquals([payload.sub, payload.role, (payload.exp ?? 0) - (payload.iat ?? 0)], [
    USER_ID,
    "authenticated",
    3600,
  ]);
  assertEquals([minted.keyId, config.userJwt?.secretName], ["kid-2026-11", "APP_USER_TOKEN"]);
  assert(configSecrets(config).includes(String(privateJwk.d)), "the private scalar is redacted from logs");
});

Deno.test("user jwt: re-mint when missing, under a third of the lifetime left, or signed by another key", () => {
  const ttlSeconds = 90 * DAY;
  const now = new Date("2026-11-30T00:00:00Z");
  const inDays = (days: number) => new Date(now.getTime() + days * DAY * 1000).toISOString();
  assertEquals(needsRemint({ expiresAt: null, ttlSeconds, now }), true);
  assertEquals(needsRemint({ expiresAt: inDays(89), ttlSeconds, now }), false);
  assertEquals(needsRemint({ expiresAt: inDays(30), ttlSeconds, now }), false, "exactly a third left");
  assertEquals(needsRemint({ expiresAt: inDays(29.9), ttlSeconds, now }), true);
  assertEquals(needsRemint({ expiresAt: inDays(-1), ttlSeconds, now }), true, "expired");
  assertEquals(
    needsRemint({ expiresAt: inDays(80), ttlSeconds, now, recordedKeyId: "old", currentKeyId: "new" }),
    true,
  );
  assertEquals(
    needsRemint({ expiresAt: inDays(80), ttlSeconds, now, recordedKeyId: "same", currentKeyId: "same" }),
    false,
  );
});

Deno.test("user jwt config: bad keys, names and lifetimes are named without echoing the key", async () => {
  const { privateJwk } = await es256Key();
  const { d: _d, ...publicJwk } = privateJwk;
  const { kid: _kid, ...withoutKid } = privateJwk;
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ USER_JWT_SIGNING_KEY: "too-short-secret" }, "USER_JWT_SIGNING_KEY", /at least 32 characters/],
    [{ USER_JWT_SIGNING_KEY: JSON.stringify(publicJwk) }, "USER_JWT_SIGNING_KEY", /private key/],
    [{ USER_JWT_SIGNING_KEY: JSON.stringify(withoutKid) }, "USER_JWT_SIGNING_KEY", /kid is required/],
    [{ USER_JWT_SIGNING_KEY: "{not json" }, "USER_JWT_SIGNING_KEY", /not valid JSON/],
    [{ USER_JWT_TTL_SECONDS: "60" }, "USER_JWT_TTL_SECONDS", /at least 3600/],
    [{ USER_JWT_SECRET_NAME: "bad name" }, "USER_JWT_SECRET_NAME", /secret name/],
    [
      { USER_JWT_SIGNING_KEY: LEGACY_SECRET, USER_JWT_SECRET_NAME: "OPENAI_API_KEY" },
      "USER_JWT_SECRET_NAME",
      /FLY_APP_SECRETS also sets/,
    ],
    [
      { FLY_APP_SECRETS: "KEY=USER_JWT_SIGNING_KEY", USER_JWT_SIGNING_KEY: LEGACY_SECRET },
      "FLY_APP_SECRETS",
      /must not pass/,
    ],
    [{ DEPROVISION_GRACE_SECONDS: "-1" }, "DEPROVISION_GRACE_SECONDS", /at least 0/],
  ];
  for (const [env, variable, message] of cases) {
    const error = problemsOf({ ...TEST_ENV, ...env });
    const problem = error.problems.find((p) => p.variable === variable);
    assert(problem && message.test(problem.message), `${variable}: ${JSON.stringify(error.problems)}`);
    assert(!error.message.includes(LEGACY_SECRET) && !error.message.includes(String(privateJwk.d)));
  }
  const defaults = loadConfig({ ...TEST_ENV });
  assertEquals([defaults.userJwt, defaults.deprovisionGraceSeconds], [undefined, 0]);
});
