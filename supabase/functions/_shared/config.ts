/**
 * Every environment variable the functions read, parsed and validated in one place.
 *
 * `loadConfig(env)` is pure: it reads only the record it is given. Errors name the variable and say what is
 * wrong with it, never what its value was.
 *
 * @module
 */
import { z } from "zod";
import { LOG_LEVELS, type LogLevel } from "./log.ts";
import { type AppNaming, appNamingProblem } from "./engine/app_name.ts";
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

/** Postgres connection settings. */
export interface DbSettings {
  /** Connection URL (`SUPABASE_DB_URL`); contains the password. */
  readonly url: string;
  /** Pool size per function instance. */
  readonly poolMax: number;
  /** Seconds before an idle connection is closed. */
  readonly idleTimeoutS: number;
  /** Seconds to wait for a connection. */
  readonly connectTimeoutS: number;
  /** Server-side statement timeout in milliseconds. */
  readonly statementTimeoutMs: number;
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

/** The functions' configuration, parsed from the environment by {@link loadConfig}. */
export interface Config {
  /** Fly Machines API access and the defaults of a user app. */
  readonly fly: {
    readonly apiToken: string;
    readonly orgSlug: string;
    readonly apiBaseUrl: string;
    readonly defaultRegion: string;
    readonly appImage: string;
    /** Timeout of one Machines API request, in milliseconds. */
    readonly requestTimeoutMs: number;
    /** App-create rate limit of the org (Fly's docs state none; default 1/s, burst 3), shared by all instances. */
    readonly appCreateRule: { readonly ratePerSecond: number; readonly burst: number };
  };
  /** How user app names are formed. */
  readonly appNaming: AppNaming;
  /** Secrets set on every user app, in configuration order. */
  readonly appSecrets: readonly AppSecretSource[];
  /** Whether the health sweep deletes apps of ours that have no active row (otherwise only reports them). */
  readonly deleteOrphanApps: boolean;
  /** Shared secret callers must present (`Authorization: Bearer` or `apikey`). */
  readonly provisionerSecret: string;
  /** Alerting. */
  readonly alert: {
    /** Optional webhook receiving alert POSTs. */
    readonly webhookUrl: string | undefined;
    /** Consecutive failures of one app before an alert is raised. */
    readonly afterFailures: number;
    /** Age in seconds of the oldest queued tier change at which the sweep alerts (the drainer is not running). */
    readonly outboxAfterSeconds: number;
  };
  /** The Supabase project URL. */
  readonly supabaseUrl: string;
  /** Postgres connection settings. */
  readonly db: DbSettings;
  /** One user's reconcile. */
  readonly reconcile: {
    /**
     * How long a lease (a user's row, or a rollout's driver) lasts without a heartbeat, in seconds. Its
     * holder renews it every third of this, so a crashed reconciler's user or rollout is free again this long
     * after the crash.
     */
    readonly leaseSeconds: number;
    /**
     * Time budget of one reconcile request (one user, or one hop of a batch), in milliseconds; a background
     * reconcile's too.
     */
    readonly budgetMs: number;
    /** Backoff of retryable failures: full jitter over min(max, base * 2^n), in milliseconds. */
    readonly backoff: { readonly baseMs: number; readonly maxMs: number };
    /** Users of one batch request (`{user_ids}`) reconciled at the same time. */
    readonly batchConcurrency: number;
  };
  /** The health sweep's defaults (a request may lower them). */
  readonly sweep: {
    /** Time budget of one sweep, in milliseconds. */
    readonly budgetMs: number;
    /** At most this many due rows reconciled per sweep. */
    readonly limit: number;
    /** At most this many apps given a per-app detail check (health checks, drift) per sweep. */
    readonly detailLimit: number;
    /** Rows reconciled or apps checked in parallel. */
    readonly concurrency: number;
    /** An app checked more recently than this many seconds ago is not checked in detail again. */
    readonly minCheckAgeSeconds: number;
    /** Seconds between full fleet listings (the others list only what changed). */
    readonly fullListingEverySeconds: number;
  };
  /** Minimum level of log entries. */
  readonly logLevel: LogLevel;
  /** Scoped user credentials; undefined when `USER_JWT_SIGNING_KEY` is not set (no credential is minted). */
  readonly userJwt: UserJwtSettings | undefined;
  /** Seconds a downgraded app is kept stopped before it is deleted (`DEPROVISION_GRACE_SECONDS`; plans may override). */
  readonly deprovisionGraceSeconds: number;
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

const envSchema = z.object({
  FLY_API_TOKEN: required(),
  FLY_ORG_SLUG: matching(
    /^[a-z0-9][a-z0-9-]*$/,
    "must be a Fly organisation slug (lowercase, digits, dashes)",
  ),
  FLY_API_BASE_URL: httpUrl().default("https://api.machines.dev"),
  FLY_DEFAULT_REGION: matching(/^[a-z]{3}$/, "must be a three-letter Fly region code such as sin"),
  FLY_APP_IMAGE: matching(/^\S+$/, "must be an image reference without spaces"),
  FLY_REQUEST_TIMEOUT_MS: integer(15_000, 1_000, 120_000),
  // Fly's docs give no app-create limit: the per-action rule (1/s, burst 3) until Fly says otherwise.
  FLY_APP_CREATE_RATE_PER_S: positive(1, 100),
  FLY_APP_CREATE_BURST: integer(3, 1, 100),
  FLY_APP_NAME_PREFIX: z.string().default("vyx-user"),
  FLY_APP_NAME_HASH_LENGTH: integer(12, 8, 32),
  FLY_APP_SECRETS: z.string().default(""),
  FLY_DELETE_ORPHAN_APPS: z.stringbool({ error: "must be true or false" }).default(false),
  PROVISIONER_SECRET: required().min(16, "must be at least 16 characters"),
  ALERT_WEBHOOK_URL: httpUrl().optional(),
  ALERT_AFTER_FAILURES: integer(3, 1, 100),
  ALERT_OUTBOX_AGE_S: integer(180, 10, 86_400),
  SUPABASE_URL: httpUrl(),
  SUPABASE_DB_URL: matching(/^postgres(ql)?:\/\/\S+$/, "must be a postgres:// or postgresql:// URL"),
  DB_POOL_MAX: integer(3, 1, 20),
  DB_IDLE_TIMEOUT_S: integer(20, 1, 3_600),
  DB_CONNECT_TIMEOUT_S: integer(10, 1, 120),
  DB_STATEMENT_TIMEOUT_MS: integer(15_000, 100, 600_000),
  RECONCILE_LEASE_SECONDS: integer(30, 10, 3_600),
  // 60 s: a request is only sure of the first half of a hosted worker's 150 s wall clock (the runtime retires
  // the worker then, sends beforeunload at 90 % and ends it at 100 %), so a request that starts late on a worker
  // must still fit. Longer batches go on hop by hop (user_batch.ts).
  RECONCILE_BUDGET_MS: integer(60_000, 1_000, 390_000),
  RECONCILE_BACKOFF_BASE_MS: integer(10_000, 100, 600_000),
  RECONCILE_BACKOFF_MAX_MS: integer(300_000, 1_000, 3_600_000),
  // 4, measured: on the bulk bench (fast emulator, sweep every minute) 4 lanes reached 1.056-1.061 of the
  // app-create floor and 6 lanes 1.079-1.092. A worker's lanes queue FIFO for the shared bucket, and at a hop's
  // end the next hop and the sweep queue too, so more lanes mostly mean users that outwait the hop's last
  // sixth. On Fly-like latency (a provision ~4.8 s, no sweep) 6 lanes were faster (66.4 s vs 69.8 s, 60 users).
  RECONCILE_BATCH_CONCURRENCY: integer(4, 1, 32),
  SWEEP_BUDGET_MS: integer(45_000, 1_000, 390_000),
  SWEEP_LIMIT: integer(100, 1, 1_000),
  // About 1 ms of CPU per app checked in detail: 1,000 keeps a sweep inside the 2 s CPU limit per request.
  SWEEP_DETAIL_LIMIT: integer(500, 0, 1_000),
  SWEEP_CONCURRENCY: integer(4, 1, 32),
  SWEEP_MIN_CHECK_AGE_S: integer(30, 0, 86_400),
  SWEEP_FULL_LISTING_EVERY_S: integer(1_800, 60, 86_400),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
  USER_JWT_SIGNING_KEY: z.string().optional(),
  USER_JWT_SECRET_NAME: matching(ENV_NAME, "must be a secret name (letters, digits, underscores)")
    .default("SUPABASE_USER_JWT"),
  // 1 hour .. 1 year; default 90 days.
  USER_JWT_TTL_SECONDS: integer(7_776_000, 3_600, 31_536_000),
  // 0 (delete at once) .. 90 days.
  DEPROVISION_GRACE_SECONDS: integer(0, 0, 7_776_000),
});

/** The validated variables, before they are shaped into {@link Config}. */
type EnvVars = z.output<typeof envSchema>;

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
function userJwtSettings(vars: EnvVars, problems: ConfigProblem[]): UserJwtSettings | undefined {
  if (vars.USER_JWT_SIGNING_KEY === undefined) return undefined;
  try {
    const signingKey = parseSigningKey(vars.USER_JWT_SIGNING_KEY);
    return { signingKey, secretName: vars.USER_JWT_SECRET_NAME, ttlSeconds: vars.USER_JWT_TTL_SECONDS };
  } catch (error) {
    if (!(error instanceof SigningKeyError)) throw error;
    problems.push({ variable: "USER_JWT_SIGNING_KEY", message: error.message });
    return undefined;
  }
}

/** Checks that involve more than one variable. */
function crossCheck(vars: EnvVars, env: Record<string, string>, problems: ConfigProblem[]): void {
  const naming = { prefix: vars.FLY_APP_NAME_PREFIX, hashLength: vars.FLY_APP_NAME_HASH_LENGTH };
  const namingProblem = appNamingProblem(naming);
  if (namingProblem) {
    problems.push({
      variable: "FLY_APP_NAME_PREFIX",
      message: `with FLY_APP_NAME_HASH_LENGTH gives invalid app names: ${namingProblem}`,
    });
  }
  if (publicKeys(env).includes(vars.PROVISIONER_SECRET)) {
    problems.push({
      variable: "PROVISIONER_SECRET",
      message: "must not equal a public (anon/publishable) key",
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
  const parsed = envSchema.safeParse(set);
  const problems: ConfigProblem[] = parsed.success ? [] : parsed.error.issues.map((issue) => ({
    variable: String(issue.path[0] ?? "environment"),
    message: issue.message,
  }));
  const appSecrets = parseAppSecrets(set.FLY_APP_SECRETS ?? "", set, problems);
  if (parsed.success) crossCheck(parsed.data, set, problems);
  const userJwt = parsed.success ? userJwtSettings(parsed.data, problems) : undefined;
  if (userJwt && appSecrets.some((secret) => secret.name === userJwt.secretName)) {
    problems.push({
      variable: "USER_JWT_SECRET_NAME",
      message: `names the secret ${userJwt.secretName}, which FLY_APP_SECRETS also sets`,
    });
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);

  const v = parsed.data;
  return {
    fly: {
      apiToken: v.FLY_API_TOKEN,
      orgSlug: v.FLY_ORG_SLUG,
      apiBaseUrl: v.FLY_API_BASE_URL.replace(/\/+$/, ""),
      defaultRegion: v.FLY_DEFAULT_REGION,
      appImage: v.FLY_APP_IMAGE,
      requestTimeoutMs: v.FLY_REQUEST_TIMEOUT_MS,
      appCreateRule: { ratePerSecond: v.FLY_APP_CREATE_RATE_PER_S, burst: v.FLY_APP_CREATE_BURST },
    },
    appNaming: { prefix: v.FLY_APP_NAME_PREFIX, hashLength: v.FLY_APP_NAME_HASH_LENGTH },
    appSecrets,
    deleteOrphanApps: v.FLY_DELETE_ORPHAN_APPS,
    provisionerSecret: v.PROVISIONER_SECRET,
    alert: {
      webhookUrl: v.ALERT_WEBHOOK_URL,
      afterFailures: v.ALERT_AFTER_FAILURES,
      outboxAfterSeconds: v.ALERT_OUTBOX_AGE_S,
    },
    supabaseUrl: v.SUPABASE_URL,
    db: {
      url: v.SUPABASE_DB_URL,
      poolMax: v.DB_POOL_MAX,
      idleTimeoutS: v.DB_IDLE_TIMEOUT_S,
      connectTimeoutS: v.DB_CONNECT_TIMEOUT_S,
      statementTimeoutMs: v.DB_STATEMENT_TIMEOUT_MS,
    },
    reconcile: {
      leaseSeconds: v.RECONCILE_LEASE_SECONDS,
      budgetMs: v.RECONCILE_BUDGET_MS,
      backoff: { baseMs: v.RECONCILE_BACKOFF_BASE_MS, maxMs: v.RECONCILE_BACKOFF_MAX_MS },
      batchConcurrency: v.RECONCILE_BATCH_CONCURRENCY,
    },
    sweep: {
      budgetMs: v.SWEEP_BUDGET_MS,
      limit: v.SWEEP_LIMIT,
      detailLimit: v.SWEEP_DETAIL_LIMIT,
      concurrency: v.SWEEP_CONCURRENCY,
      minCheckAgeSeconds: v.SWEEP_MIN_CHECK_AGE_S,
      fullListingEverySeconds: v.SWEEP_FULL_LISTING_EVERY_S,
    },
    logLevel: v.LOG_LEVEL,
    userJwt,
    deprovisionGraceSeconds: v.DEPROVISION_GRACE_SECONDS,
  };
}

/** Every secret value in `config`, for log redaction: tokens, the provisioner secret, the DB URL and its
 * password, the alert webhook URL, and the values passed to user apps. */
export function configSecrets(config: Config): string[] {
  const values = [
    config.fly.apiToken,
    config.provisionerSecret,
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
