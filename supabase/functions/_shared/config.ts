/**
 * Every environment variable the functions read, parsed and validated in one place.
 *
 * One zod schema is the single source: its shape is the {@link Config} type, and each leaf names the
 * environment variable it is read from, its rule and its default. `loadConfig(env)` is pure: it reads only the
 * record it is given. Errors name the variable and say what is wrong with it, never what its value was.
 *
 * @module
 */
import { z } from "zod";
import { LOG_LEVELS } from "./log.ts";
import { appNamingProblem } from "./engine/app_name.ts";
import { parseSigningKey, SigningKeyError, type SigningKeySource } from "./credentials/signing_key.ts";

/** One secret a user app receives: the Fly secret `name`, the env var it is read from, and its value. */
export interface AppSecretSource {
  /** Secret name in the user's Fly app (what the app sees as an env var). */
  readonly name: string;
  /** Environment variable of the functions holding the value. */
  readonly envVar: string;
  /** The value. Never log it. */
  readonly value: string;
}

/** The per-user scoped credential every user app receives (set when `USER_JWT_SIGNING_KEY` is). */
export interface UserJwtSettings {
  /** The signing key (legacy JWT secret or private JWK). Never log it. */
  readonly signingKey: SigningKeySource;
  /** Name of the Fly secret holding the credential (`USER_JWT_SECRET_NAME`). */
  readonly secretName: string;
  /** Lifetime of a credential in seconds (`USER_JWT_TTL_SECONDS`). */
  readonly ttlSeconds: number;
}

/** One problem found in the environment: the variable and what is wrong with it (never its value). */
export interface ConfigProblem {
  /** The environment variable. */
  readonly variable: string;
  /** What is wrong, e.g. "is required". */
  readonly message: string;
}

/** Thrown by {@link loadConfig}; the message lists every problem by variable name. */
export class ConfigError extends Error {
  /** Every problem found. */
  readonly problems: readonly ConfigProblem[];

  /** Build the error from the problems found. */
  constructor(problems: readonly ConfigProblem[]) {
    super(`Invalid configuration: ${problems.map((p) => `${p.variable} ${p.message}`).join("; ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Environment variables whose values must never be handed to a user app. */
const NEVER_PASSED_TO_APPS = [
  "FLY_API_TOKEN",
  "PROVISIONER_SECRET",
  "KICK_SECRET",
  "FLY_APP_NAME_KEY",
  "SUPABASE_DB_URL",
  "ALERT_WEBHOOK_URL",
  "USER_JWT_SIGNING_KEY",
];

/** An environment variable / Fly secret name. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A required non-empty string. */
const required = () => z.string({ error: "is required" });

/** A string that must match `pattern`, described by `rule`. */
const matching = (pattern: RegExp, rule: string) => required().regex(pattern, rule);

/** An integer in [min, max] with a default. */
const integer = (fallback: number, min: number, max: number) =>
  z.coerce.number({ error: "must be a number" }).int("must be an integer")
    .min(min, `must be at least ${min}`).max(max, `must be at most ${max}`).default(fallback);

/** A positive number up to max with a default. */
const positive = (fallback: number, max: number) =>
  z.coerce.number({ error: "must be a number" }).positive("must be a positive number")
    .max(max, `must be at most ${max}`).default(fallback);

/** An http(s) URL. */
const httpUrl = () =>
  z.url({
    protocol: /^https?$/,
    error: (issue) => issue.input === undefined ? "is required" : "must be an http(s) URL",
  });

/** The environment variable each leaf of {@link configSchema} is read from. */
const envVariables = z.registry<{ variable: string }>();

/** `schema`, read from the environment variable `variable`. */
function env<S extends z.ZodType>(variable: string, schema: S): S {
  envVariables.add(schema, { variable });
  return schema;
}

/**
 * The configuration: its shape is {@link Config}, each leaf names the environment variable it is read from,
 * its rule and its default.
 */
const configSchema = z.object({
  /** Fly Machines API access and the defaults of a user app. */
  fly: z.object({
    apiToken: env("FLY_API_TOKEN", required()),
    orgSlug: env(
      "FLY_ORG_SLUG",
      matching(/^[a-z0-9][a-z0-9-]*$/, "must be a Fly organisation slug (lowercase, digits, dashes)"),
    ),
    /** Without a trailing slash. */
    apiBaseUrl: env(
      "FLY_API_BASE_URL",
      httpUrl().transform((url) => url.replace(/\/+$/, "")).default("https://api.machines.dev"),
    ),
    defaultRegion: env(
      "FLY_DEFAULT_REGION",
      matching(/^[a-z]{3}$/, "must be a three-letter Fly region code such as sin"),
    ),
    appImage: env("FLY_APP_IMAGE", matching(/^\S+$/, "must be an image reference without spaces")),
    /**
     * Where user apps' images may come from: repositories, or prefixes ending in `/`, separated by commas or
     * spaces; empty: the repository of `FLY_APP_IMAGE` only (image_allowed.ts).
     */
    imageAllowed: env(
      "FLY_IMAGE_ALLOWED",
      z.string().default("").transform((list) => list.split(/[\s,]+/).filter((entry) => entry !== "")),
    ),
    /** Timeout of one Machines API request, in milliseconds. */
    requestTimeoutMs: env("FLY_REQUEST_TIMEOUT_MS", integer(15_000, 1_000, 120_000)),
    /** App-create rate limit of the org, shared by all instances. */
    appCreateRule: z.object({
      // Fly's docs give no app-create limit: the per-action rule (1/s, burst 3) until Fly says otherwise.
      ratePerSecond: env("FLY_APP_CREATE_RATE_PER_S", positive(1, 100)),
      burst: env("FLY_APP_CREATE_BURST", integer(3, 1, 100)),
    }),
  }),
  /** How user app names are formed. */
  appNaming: z.object({
    prefix: env("FLY_APP_NAME_PREFIX", z.string().default("vyx-user")),
    hashLength: env("FLY_APP_NAME_HASH_LENGTH", integer(12, 8, 32)),
    /** Key of the HMAC that derives names from user ids, so outsiders cannot compute them. */
    key: env("FLY_APP_NAME_KEY", required().min(16, "must be at least 16 characters")),
  }),
  /** Secrets set on every user app (the raw list; {@link Config} holds them parsed). */
  appSecrets: env("FLY_APP_SECRETS", z.string().default("")),
  /** Whether the health sweep deletes apps of ours that have no active row (otherwise only reports them). */
  deleteOrphanApps: env(
    "FLY_DELETE_ORPHAN_APPS",
    z.stringbool({ error: "must be true or false" }).default(false),
  ),
  /**
   * The admin secret (`Authorization: Bearer` or `apikey`): opens every route, `fly-apps-admin` and the ops
   * actions (`?wait=true`, GET). Never stored in the database.
   */
  provisionerSecret: env("PROVISIONER_SECRET", required().min(16, "must be at least 16 characters")),
  /**
   * The kick secret, the only one the database holds (Vault `fly_kick_secret`, pg_net headers): it only asks
   * for a background reconcile of given users and for a sweep (POST without `?wait=true`).
   */
  kickSecret: env("KICK_SECRET", required().min(16, "must be at least 16 characters")),
  /** Alerting. */
  alert: z.object({
    /** Optional webhook receiving alert POSTs. */
    webhookUrl: env("ALERT_WEBHOOK_URL", httpUrl().optional()),
    /** Consecutive failures of one app before an alert is raised. */
    afterFailures: env("ALERT_AFTER_FAILURES", integer(3, 1, 100)),
    /** Age in seconds of the oldest queued tier change at which the sweep alerts (the drainer is not running). */
    outboxAfterSeconds: env("ALERT_OUTBOX_AGE_S", integer(180, 10, 86_400)),
  }),
  /** The Supabase project URL. */
  supabaseUrl: env("SUPABASE_URL", httpUrl()),
  /** Postgres connection settings. */
  db: z.object({
    /** Connection URL; contains the password. */
    url: env(
      "SUPABASE_DB_URL",
      matching(/^postgres(ql)?:\/\/\S+$/, "must be a postgres:// or postgresql:// URL"),
    ),
    /** Pool size per function instance. */
    poolMax: env("DB_POOL_MAX", integer(3, 1, 20)),
    /** Seconds before an idle connection is closed. */
    idleTimeoutS: env("DB_IDLE_TIMEOUT_S", integer(20, 1, 3_600)),
    /** Seconds to wait for a connection. */
    connectTimeoutS: env("DB_CONNECT_TIMEOUT_S", integer(10, 1, 120)),
    /** Server-side statement timeout in milliseconds. */
    statementTimeoutMs: env("DB_STATEMENT_TIMEOUT_MS", integer(15_000, 100, 600_000)),
  }),
  /** One user's reconcile. */
  reconcile: z.object({
    /**
     * How long a lease (a user's row, or a rollout's driver) lasts without a heartbeat, in seconds. Its
     * holder renews it every third of this, so a crashed reconciler's user or rollout is free again this long
     * after the crash.
     */
    leaseSeconds: env("RECONCILE_LEASE_SECONDS", integer(30, 10, 3_600)),
    // 60 s: a request is only sure of the first half of a hosted worker's 150 s wall clock (the runtime retires
    // the worker then, sends beforeunload at 90 % and ends it at 100 %), so a request that starts late on a
    // worker must still fit. Longer batches go on hop by hop (user_batch.ts).
    /**
     * Time budget of one reconcile request (one user, or one hop of a batch), in milliseconds; a background
     * reconcile's too.
     */
    budgetMs: env("RECONCILE_BUDGET_MS", integer(60_000, 1_000, 390_000)),
    /** Backoff of retryable failures: full jitter over min(max, base * 2^n), in milliseconds. */
    backoff: z.object({
      baseMs: env("RECONCILE_BACKOFF_BASE_MS", integer(10_000, 100, 600_000)),
      maxMs: env("RECONCILE_BACKOFF_MAX_MS", integer(300_000, 1_000, 3_600_000)),
    }),
    // 4, measured: on the bulk bench (fast emulator, sweep every minute) 4 lanes reached 1.056-1.061 of the
    // app-create floor and 6 lanes 1.079-1.092. A worker's lanes queue FIFO for the shared bucket, and at a
    // hop's end the next hop and the sweep queue too, so more lanes mostly mean users that outwait the hop's
    // last sixth. On Fly-like latency (a provision ~4.8 s, no sweep) 6 lanes were faster (66.4 s vs 69.8 s,
    // 60 users).
    /** Users of one batch request (`{user_ids}`) reconciled at the same time. */
    batchConcurrency: env("RECONCILE_BATCH_CONCURRENCY", integer(4, 1, 32)),
  }),
  /** The health sweep's defaults (a request may lower them). */
  sweep: z.object({
    /** Time budget of one sweep, in milliseconds. */
    budgetMs: env("SWEEP_BUDGET_MS", integer(45_000, 1_000, 390_000)),
    /** At most this many due rows reconciled per sweep. */
    limit: env("SWEEP_LIMIT", integer(100, 1, 1_000)),
    // About 1 ms of CPU per app checked in detail: 1,000 keeps a sweep inside the 2 s CPU limit per request.
    /** At most this many apps given a per-app detail check (health checks, drift) per sweep. */
    detailLimit: env("SWEEP_DETAIL_LIMIT", integer(500, 0, 1_000)),
    /** Rows reconciled or apps checked in parallel. */
    concurrency: env("SWEEP_CONCURRENCY", integer(4, 1, 32)),
    /** An app checked more recently than this many seconds ago is not checked in detail again. */
    minCheckAgeSeconds: env("SWEEP_MIN_CHECK_AGE_S", integer(30, 0, 86_400)),
    /** Seconds between full fleet listings (the others list only what changed). */
    fullListingEverySeconds: env("SWEEP_FULL_LISTING_EVERY_S", integer(1_800, 60, 86_400)),
  }),
  /** Minimum level of log entries. */
  logLevel: env(
    "LOG_LEVEL",
    z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
  ),
  /** Scoped user credentials (the raw settings; {@link Config} holds them parsed, or undefined). */
  userJwt: z.object({
    signingKey: env("USER_JWT_SIGNING_KEY", z.string().optional()),
    secretName: env(
      "USER_JWT_SECRET_NAME",
      matching(ENV_NAME, "must be a secret name (letters, digits, underscores)").default("SUPABASE_USER_JWT"),
    ),
    // 1 hour .. 1 year; default 90 days.
    ttlSeconds: env("USER_JWT_TTL_SECONDS", integer(7_776_000, 3_600, 31_536_000)),
  }),
  /** Seconds a downgraded app is kept stopped before it is deleted (plans may override); 0 .. 90 days. */
  deprovisionGraceSeconds: env("DEPROVISION_GRACE_SECONDS", integer(0, 0, 7_776_000)),
  /**
   * Seconds a user's volume may sit on an unreachable host before the engine moves the user onto a new volume
   * from its latest snapshot; 1 .. 1 day, default 600.
   */
  hostRecoveryAfterS: env("HOST_RECOVERY_AFTER_S", integer(600, 1, 86_400)),
});

/** The schema's output, before the secrets and the signing key are parsed. */
type ParsedConfig = z.output<typeof configSchema>;

/** `T` with every property readonly, all the way down. */
type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** The functions' configuration, parsed from the environment by {@link loadConfig}. */
export type Config = DeepReadonly<Omit<ParsedConfig, "appSecrets" | "userJwt">> & {
  /** Secrets set on every user app, in configuration order. */
  readonly appSecrets: readonly AppSecretSource[];
  /** Scoped user credentials; undefined when `USER_JWT_SIGNING_KEY` is not set (no credential is minted). */
  readonly userJwt: UserJwtSettings | undefined;
};

/** Postgres connection settings. */
export type DbSettings = Config["db"];

/** A leaf of {@link configSchema}: where it sits in the configuration and its environment variable. */
interface ConfigVariable {
  /** Property path in the configuration, e.g. `["fly", "apiToken"]`. */
  readonly path: readonly string[];
  /** The environment variable. */
  readonly variable: string;
}

/** The leaves of `schema` (depth first, in declaration order). */
function leavesOf(schema: z.ZodObject, prefix: readonly string[] = []): ConfigVariable[] {
  return Object.entries(schema.shape).flatMap(([key, field]): ConfigVariable[] => {
    const path = [...prefix, key];
    const variable = envVariables.get(field)?.variable;
    if (variable) return [{ path, variable }];
    if (field instanceof z.ZodObject) return leavesOf(field, path);
    throw new Error(`config: ${path.join(".")} names no environment variable`);
  });
}

/** Every variable of the configuration, in declaration order. */
const CONFIG_VARIABLES = leavesOf(configSchema);

/** The environment variables the configuration reads (not counting those FLY_APP_SECRETS names). */
export const CONFIG_VARIABLE_NAMES: readonly string[] = CONFIG_VARIABLES.map((leaf) => leaf.variable);

/** The schema's input: each leaf's variable from `env`, at its place in the configuration. */
function schemaInput(env: Record<string, string>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const { path, variable } of CONFIG_VARIABLES) {
    let node = input;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path.at(-1)!] = env[variable];
  }
  return input;
}

/** The variable an issue at `path` is about. */
function variableAt(path: readonly PropertyKey[]): string {
  const leaf = CONFIG_VARIABLES.find((candidate) => candidate.path.every((key, i) => path[i] === key));
  return leaf?.variable ?? "environment";
}

/** Values of the public Supabase keys present in `env` (the anon key and publishable keys). */
function publicKeys(env: Record<string, string>): string[] {
  const keys = [env.SUPABASE_ANON_KEY, env.SUPABASE_PUBLISHABLE_KEY];
  try {
    const dict: unknown = JSON.parse(env.SUPABASE_PUBLISHABLE_KEYS ?? "{}");
    if (dict && typeof dict === "object") {
      keys.push(...Object.values(dict).filter((v) => typeof v === "string"));
    }
  } catch {
    // Not ours to validate: a malformed dict simply contributes no keys.
  }
  return keys.filter((k): k is string => typeof k === "string" && k !== "");
}

/**
 * Parse `FLY_APP_SECRETS`: entries separated by commas or whitespace, each `NAME` (value from env var NAME)
 * or `NAME=ENV_VAR` (Fly secret NAME, value from ENV_VAR). Reports problems by variable name.
 */
function parseAppSecrets(
  spec: string,
  env: Record<string, string>,
  problems: ConfigProblem[],
): AppSecretSource[] {
  const sources: AppSecretSource[] = [];
  const entries = spec.split(/[\s,]+/).filter((e) => e !== "");
  for (const [index, entry] of entries.entries()) {
    const [name, envVar = name, ...rest] = entry.split("=");
    if (rest.length > 0 || !ENV_NAME.test(name) || !ENV_NAME.test(envVar)) {
      // The entry itself is not echoed: a value pasted by mistake would end up in the logs.
      problems.push({
        variable: "FLY_APP_SECRETS",
        message: `entry ${index + 1} is malformed (expected NAME or NAME=ENV_VAR)`,
      });
    } else if (sources.some((s) => s.name === name)) {
      problems.push({ variable: "FLY_APP_SECRETS", message: `lists the secret ${name} twice` });
    } else if (NEVER_PASSED_TO_APPS.includes(envVar)) {
      problems.push({ variable: "FLY_APP_SECRETS", message: `must not pass ${envVar} to user apps` });
    } else if (!env[envVar]) {
      problems.push({
        variable: envVar,
        message: `is required (source of app secret ${name} in FLY_APP_SECRETS)`,
      });
    } else {
      sources.push({ name, envVar, value: env[envVar] });
    }
  }
  return sources;
}

/** The parsed `USER_JWT_SIGNING_KEY`, or undefined with a problem recorded (never quoting the key). */
function userJwtSettings(
  raw: ParsedConfig["userJwt"],
  problems: ConfigProblem[],
): UserJwtSettings | undefined {
  if (raw.signingKey === undefined) return undefined;
  try {
    return {
      signingKey: parseSigningKey(raw.signingKey),
      secretName: raw.secretName,
      ttlSeconds: raw.ttlSeconds,
    };
  } catch (error) {
    if (!(error instanceof SigningKeyError)) throw error;
    problems.push({ variable: "USER_JWT_SIGNING_KEY", message: error.message });
    return undefined;
  }
}

/** Checks that involve more than one variable. */
function crossCheck(parsed: ParsedConfig, env: Record<string, string>, problems: ConfigProblem[]): void {
  const namingProblem = appNamingProblem(parsed.appNaming);
  if (namingProblem) {
    problems.push({
      variable: "FLY_APP_NAME_PREFIX",
      message: `with FLY_APP_NAME_HASH_LENGTH gives invalid app names: ${namingProblem}`,
    });
  }
  for (
    const [variable, value] of [["PROVISIONER_SECRET", parsed.provisionerSecret], [
      "KICK_SECRET",
      parsed.kickSecret,
    ]]
  ) {
    if (publicKeys(env).includes(value)) {
      problems.push({ variable, message: "must not equal a public (anon/publishable) key" });
    }
  }
  if (parsed.kickSecret === parsed.provisionerSecret) {
    problems.push({
      variable: "KICK_SECRET",
      message:
        "must differ from PROVISIONER_SECRET (the database holds the kick secret, never the admin one)",
    });
  }
}

/**
 * Parse and validate the functions' configuration from `env` (default: the process environment).
 * Empty values count as unset, so defaults apply to them.
 *
 * @throws {ConfigError} naming every missing or invalid variable, without their values.
 */
export function loadConfig(env: Record<string, string> = Deno.env.toObject()): Config {
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value.trim() !== ""));
  const parsed = configSchema.safeParse(schemaInput(set));
  const problems: ConfigProblem[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({ variable: variableAt(issue.path), message: issue.message }));
  const appSecrets = parseAppSecrets(set.FLY_APP_SECRETS ?? "", set, problems);
  if (parsed.success) crossCheck(parsed.data, set, problems);
  const userJwt = parsed.success ? userJwtSettings(parsed.data.userJwt, problems) : undefined;
  if (userJwt && appSecrets.some((secret) => secret.name === userJwt.secretName)) {
    problems.push({
      variable: "USER_JWT_SECRET_NAME",
      message: `names the secret ${userJwt.secretName}, which FLY_APP_SECRETS also sets`,
    });
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  return { ...parsed.data, appSecrets, userJwt };
}

/** Every secret value in `config`, for log redaction: tokens, the admin and kick secrets, the name key, the DB URL and its
 * password, the alert webhook URL, and the values passed to user apps. */
export function configSecrets(config: Config): string[] {
  const values = [
    config.fly.apiToken,
    config.provisionerSecret,
    config.kickSecret,
    config.appNaming.key,
    config.db.url,
    ...config.appSecrets.map((s) => s.value),
  ];
  if (config.alert.webhookUrl) values.push(config.alert.webhookUrl);
  const signingKey = config.userJwt?.signingKey;
  if (signingKey?.kind === "shared_secret") values.push(signingKey.secret);
  if (signingKey?.kind === "private_jwk") {
    const jwk = signingKey.jwk as Record<string, unknown>;
    for (const member of ["d", "p", "q", "dp", "dq", "qi"]) {
      if (typeof jwk[member] === "string") values.push(jwk[member]);
    }
  }
  const password = URL.canParse(config.db.url) ? decodeURIComponent(new URL(config.db.url).password) : "";
  if (password) values.push(password);
  return values;
}
