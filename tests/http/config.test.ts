import nodeAssert from "node:assert/strict";
import { assert, assertEquals } from "../_support/assert.ts";
import {
  CONFIG_VARIABLE_NAMES,
  ConfigError,
  configSecrets,
  loadConfig,
} from "../../supabase/functions/_shared/config.ts";
import { ANON_KEY, FLY_TOKEN, OPENAI_KEY, SECRET, TEST_ENV } from "./_support.ts";

/** The ConfigError thrown for `env`. */
function problemsOf(env: Record<string, string>): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  nodeAssert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught}`);
  return caught;
}

Deno.test("config: a complete environment parses, with documented defaults", () => {
  const config = loadConfig({ ...TEST_ENV, FLY_API_BASE_URL: "" });
  assertEquals(config.fly.apiBaseUrl, "https://api.machines.dev");
  assertEquals(config.fly.orgSlug, "test-org");
  assertEquals(config.fly.appCreateRule, { ratePerSecond: 1, burst: 3 }, "Fly states none: 1/s, burst 3");
  assertEquals(config.appNaming, { prefix: "vyx-user", hashLength: 12, key: TEST_ENV.FLY_APP_NAME_KEY });
  assertEquals(config.fly.imageAllowed, [], "empty: the repository of FLY_APP_IMAGE (image_allowed.ts)");
  assertEquals(config.deleteOrphanApps, false);
  assertEquals(config.alert, { webhookUrl: undefined, afterFailures: 3, outboxAfterSeconds: 180 });
  assertEquals(config.db.poolMax, 3);
  assertEquals(config.sweep, {
    budgetMs: 45_000,
    limit: 100,
    detailLimit: 500,
    concurrency: 4,
    minCheckAgeSeconds: 30,
    fullListingEverySeconds: 1_800,
  });
  assertEquals(config.reconcile, {
    leaseSeconds: 30,
    budgetMs: 60_000,
    backoff: { baseMs: 10_000, maxMs: 300_000 },
    batchConcurrency: 4,
  });
  assertEquals(config.logLevel, "info");
  assertEquals(config.appSecrets, [
    { name: "SUPABASE_URL", envVar: "SUPABASE_URL", value: TEST_ENV.SUPABASE_URL },
    { name: "OPENAI_API_KEY", envVar: "OPENAI_API_KEY", value: OPENAI_KEY },
  ]);
});

Deno.test("config: overrides are parsed and typed", () => {
  const config = loadConfig({
    ...TEST_ENV,
    FLY_API_BASE_URL: "http://127.0.0.1:9999/",
    FLY_APP_NAME_PREFIX: "acme-app",
    FLY_APP_NAME_HASH_LENGTH: "16",
    FLY_DELETE_ORPHAN_APPS: "true",
    ALERT_WEBHOOK_URL: "https://hooks.example.com/x",
    SWEEP_BUDGET_MS: "20000",
    LOG_LEVEL: "debug",
    FLY_APP_CREATE_RATE_PER_S: "0.5",
    FLY_APP_CREATE_BURST: "5",
  });
  assertEquals(config.fly.appCreateRule, { ratePerSecond: 0.5, burst: 5 });
  assertEquals(config.fly.apiBaseUrl, "http://127.0.0.1:9999");
  assertEquals(config.appNaming, { prefix: "acme-app", hashLength: 16, key: TEST_ENV.FLY_APP_NAME_KEY });
  assertEquals(config.deleteOrphanApps, true);
  assertEquals(config.alert.webhookUrl, "https://hooks.example.com/x");
  assertEquals(config.sweep.budgetMs, 20_000);
  assertEquals(config.logLevel, "debug");
});

Deno.test("config: every missing required variable is named (empty counts as missing)", () => {
  const required = [
    "FLY_API_TOKEN",
    "FLY_ORG_SLUG",
    "FLY_DEFAULT_REGION",
    "FLY_APP_IMAGE",
    "PROVISIONER_SECRET",
    "KICK_SECRET",
    "FLY_APP_NAME_KEY",
    "SUPABASE_URL",
    "SUPABASE_DB_URL",
  ];
  const error = problemsOf({ FLY_API_TOKEN: "  " });
  assertEquals(error.problems.map((p) => p.variable).sort(), [...required].sort());
  for (const name of required) assert(error.message.includes(`${name} is required`), error.message);
  for (const name of required) {
    const one = problemsOf({ ...TEST_ENV, [name]: "" });
    assertEquals([...new Set(one.problems.map((p) => p.variable))], [name]);
  }
});

Deno.test("config: invalid values are named, and their values never appear in the error", () => {
  const bad = {
    PROVISIONER_SECRET: "short-Secret!",
    FLY_API_BASE_URL: "ftp://user:leaky-pass@host",
    SUPABASE_DB_URL: "mysql://root:db-leak@host/db",
    ALERT_WEBHOOK_URL: "hooks-leak-token",
    FLY_DEFAULT_REGION: "Singapore",
    FLY_DELETE_ORPHAN_APPS: "perhaps",
    DB_POOL_MAX: "many",
    SWEEP_CONCURRENCY: "0",
    LOG_LEVEL: "verbose",
    FLY_APP_CREATE_RATE_PER_S: "-7",
  };
  const error = problemsOf({ ...TEST_ENV, ...bad });
  assertEquals(error.problems.map((p) => p.variable).sort(), Object.keys(bad).sort());
  for (const value of Object.values(bad)) assert(!error.message.includes(value), `leaked ${value}`);
  for (const value of ["leaky-pass", "db-leak", "hooks-leak"]) assert(!error.message.includes(value), value);
});

Deno.test("config: FLY_APP_SECRETS maps Fly secret names to env vars", () => {
  const config = loadConfig({
    ...TEST_ENV,
    APP_SUPABASE_KEY: "service-key-value",
    ANTHROPIC_API_KEY: "anthropic-value",
    FLY_APP_SECRETS: " SUPABASE_URL,\n SUPABASE_SERVICE_ROLE_KEY=APP_SUPABASE_KEY  ANTHROPIC_API_KEY ,",
  });
  assertEquals(config.appSecrets.map((s) => [s.name, s.envVar, s.value]), [
    ["SUPABASE_URL", "SUPABASE_URL", TEST_ENV.SUPABASE_URL],
    ["SUPABASE_SERVICE_ROLE_KEY", "APP_SUPABASE_KEY", "service-key-value"],
    ["ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY", "anthropic-value"],
  ]);
  assertEquals(loadConfig({ ...TEST_ENV, FLY_APP_SECRETS: "" }).appSecrets, []);
});

Deno.test("config: FLY_APP_SECRETS problems are named without echoing entries", () => {
  const missing = problemsOf({ ...TEST_ENV, FLY_APP_SECRETS: "AI_KEY=NOT_SET_ANYWHERE" });
  assertEquals(missing.problems, [{
    variable: "NOT_SET_ANYWHERE",
    message: "is required (source of app secret AI_KEY in FLY_APP_SECRETS)",
  }]);
  const pasted = problemsOf({ ...TEST_ENV, FLY_APP_SECRETS: "OPENAI_API_KEY=sk-live-pasted-value" });
  assertEquals(pasted.problems.map((p) => p.variable), ["FLY_APP_SECRETS"]);
  assert(!pasted.message.includes("sk-live-pasted-value"), pasted.message);
  const twice = problemsOf({ ...TEST_ENV, FLY_APP_SECRETS: "OPENAI_API_KEY OPENAI_API_KEY=SUPABASE_URL" });
  assert(twice.message.includes("twice"), twice.message);
});

Deno.test("config: the functions' own credentials are never passed to user apps", () => {
  for (
    const own of ["FLY_API_TOKEN", "PROVISIONER_SECRET", "KICK_SECRET", "FLY_APP_NAME_KEY", "SUPABASE_DB_URL"]
  ) {
    const error = problemsOf({ ...TEST_ENV, FLY_APP_SECRETS: `X=${own}` });
    assert(error.message.includes(`must not pass ${own}`), error.message);
  }
});

Deno.test("config: the provisioner secret must not be a public key", () => {
  const publishable = "sb_publishable_0123456789abcdef";
  for (
    const env of [
      { ...TEST_ENV, PROVISIONER_SECRET: ANON_KEY },
      {
        ...TEST_ENV,
        PROVISIONER_SECRET: publishable,
        SUPABASE_PUBLISHABLE_KEYS: `{"default":"${publishable}"}`,
      },
    ]
  ) {
    const error = problemsOf(env);
    assertEquals(error.problems.map((p) => p.variable), ["PROVISIONER_SECRET"]);
    assert(!error.message.includes(env.PROVISIONER_SECRET));
  }
});

Deno.test("config: the kick secret differs from the admin secret and from public keys", () => {
  const same = problemsOf({ ...TEST_ENV, KICK_SECRET: TEST_ENV.PROVISIONER_SECRET });
  assertEquals(same.problems.map((p) => p.variable), ["KICK_SECRET"]);
  assert(same.message.includes("must differ from PROVISIONER_SECRET"), same.message);
  assert(!same.message.includes(TEST_ENV.PROVISIONER_SECRET), "the value is never echoed");
  assertEquals(problemsOf({ ...TEST_ENV, KICK_SECRET: ANON_KEY }).problems.map((p) => p.variable), [
    "KICK_SECRET",
  ]);
});

Deno.test("config: FLY_IMAGE_ALLOWED is a list of repositories and prefixes", () => {
  const config = loadConfig({
    ...TEST_ENV,
    FLY_IMAGE_ALLOWED: "registry.fly.io/a, registry.example.com/team/ ",
  });
  assertEquals(config.fly.imageAllowed, ["registry.fly.io/a", "registry.example.com/team/"]);
});

Deno.test("config: app naming must give valid Fly names", () => {
  assertEquals(
    problemsOf({ ...TEST_ENV, FLY_APP_NAME_PREFIX: "Vyx_User" }).problems[0].variable,
    "FLY_APP_NAME_PREFIX",
  );
  assertEquals(
    problemsOf({ ...TEST_ENV, FLY_APP_NAME_PREFIX: "a".repeat(60) }).problems[0].variable,
    "FLY_APP_NAME_PREFIX",
  );
  assertEquals(
    problemsOf({ ...TEST_ENV, FLY_APP_NAME_HASH_LENGTH: "6" }).problems[0].variable,
    "FLY_APP_NAME_HASH_LENGTH",
  );
});

Deno.test("config: configSecrets lists every secret value, including the DB password", () => {
  const secrets = configSecrets(
    loadConfig({ ...TEST_ENV, ALERT_WEBHOOK_URL: "https://hooks.example.com/T0/abc" }),
  );
  for (const value of [FLY_TOKEN, SECRET, OPENAI_KEY, "db-password-xyz", TEST_ENV.SUPABASE_DB_URL]) {
    assert(secrets.includes(value), value);
  }
  assert(secrets.includes("https://hooks.example.com/T0/abc"));
});

Deno.test("config: each variable is read by one field, and .env.example lists all but the platform's own", async () => {
  assertEquals(new Set(CONFIG_VARIABLE_NAMES).size, CONFIG_VARIABLE_NAMES.length, "a variable read twice");
  const example = await Deno.readTextFile(new URL("../../.env.example", import.meta.url));
  const listed = new Set([...example.matchAll(/^#? *([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]));
  const platform = ["SUPABASE_URL", "SUPABASE_DB_URL"];
  assertEquals(CONFIG_VARIABLE_NAMES.filter((name) => !listed.has(name)), platform);
  assertEquals([...listed].filter((name) => !CONFIG_VARIABLE_NAMES.includes(name)), []);
});

Deno.test("config: a problem deep in the configuration names its variable", () => {
  const error = problemsOf({ ...TEST_ENV, RECONCILE_BACKOFF_MAX_MS: "10", FLY_APP_CREATE_BURST: "1000" });
  assertEquals(error.problems, [
    { variable: "FLY_APP_CREATE_BURST", message: "must be at most 100" },
    { variable: "RECONCILE_BACKOFF_MAX_MS", message: "must be at least 1000" },
  ]);
});
