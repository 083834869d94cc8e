/**
 * The app's scoped user credential (when `USER_JWT_SIGNING_KEY` is configured): a JWT acting as the user,
 * held in the app's secrets under `USER_JWT_SECRET_NAME`.
 *
 * {@link ensureCredential} mints a new one when the app has none, when less than a third of its lifetime is
 * left, or when the configured key changed; it returns the value for the caller to write with the other
 * secrets (one secrets version, so the machine update that follows picks it up) and the columns to record.
 * The token is never put into the patch, an event or a log line: only its expiry and key id are.
 *
 * @module
 */
import type { Config, UserJwtSettings } from "../config.ts";
import type { UserFlyApp } from "../db/user_fly_apps.ts";
import { importSigningKey, type SigningKey, type SigningKeySource } from "../credentials/signing_key.ts";
import { mintUserJwt, needsRemint } from "../credentials/user_jwt.ts";
import type { ReconcileContext } from "./context.ts";

/** Observed columns recorded after a mint (the SQL patch must accept both keys). */
export interface CredentialPatch {
  credential_expires_at: string;
  credential_key_id: string;
  /** The new token's `jti`; recording it revokes the previous one (private.revoked_user_credentials). */
  credential_jti: string;
}

/** Outcome of {@link ensureCredential}. */
export interface CredentialOutcome {
  /** `{[secretName]: token}` to merge into the secrets update; empty when nothing was minted. */
  secrets: Record<string, string>;
  /** Columns to merge into the observed patch; null when nothing was minted. */
  patch: CredentialPatch | null;
}

/** Options of {@link ensureCredential}. */
export interface EnsureCredentialOptions {
  /** The user's app. */
  appName: string;
  /** Secret names the app has, when the caller listed them already (saves a list call). */
  presentSecretNames?: ReadonlySet<string>;
  /** Default now. */
  now?: Date;
}

const NOTHING: CredentialOutcome = { secrets: {}, patch: null };

/** Imported keys by their parsed configuration (one import per configuration, not per reconcile). */
const importedKeys = new WeakMap<SigningKeySource, Promise<SigningKey>>();

function signingKeyFor(settings: UserJwtSettings): Promise<SigningKey> {
  let key = importedKeys.get(settings.signingKey);
  if (!key) {
    key = importSigningKey(settings.signingKey);
    importedKeys.set(settings.signingKey, key);
  }
  return key;
}

function recorded(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** The recorded credential columns of a row. */
type CredentialColumns = Pick<UserFlyApp, "credential_expires_at" | "credential_key_id">;

/** Whether `row`'s recorded credential is missing, expiring (a third of its lifetime left) or of another key. */
function staleWith(settings: UserJwtSettings, key: SigningKey, row: CredentialColumns, now: Date): boolean {
  return needsRemint({
    expiresAt: recorded(row.credential_expires_at),
    ttlSeconds: settings.ttlSeconds,
    recordedKeyId: recorded(row.credential_key_id),
    currentKeyId: key.keyId,
    now,
  });
}

/**
 * Whether the row's app needs a new credential now, judged from the recorded expiry and key id only (no Fly
 * call): for the sweep, which makes such rows due so the next reconcile mints and rolls the credential out.
 * False when no credential is configured.
 */
export async function credentialDue(
  config: Pick<Config, "userJwt">,
  row: CredentialColumns,
  now: Date = new Date(),
): Promise<boolean> {
  if (!config.userJwt) return false;
  return staleWith(config.userJwt, await signingKeyFor(config.userJwt), row, now);
}

/** Mints the app's credential if it needs one (see the module doc); nothing when none is configured. */
export async function ensureCredential(
  ctx: ReconcileContext,
  options: EnsureCredentialOptions,
): Promise<CredentialOutcome> {
  const settings = ctx.config.userJwt;
  if (!settings) return NOTHING;
  const key = await signingKeyFor(settings);
  const now = options.now ?? new Date();
  const expiresAt = recorded(ctx.row.credential_expires_at);
  const stale = staleWith(settings, key, ctx.row, now);
  if (!stale) {
    const present = options.presentSecretNames ??
      new Set((await ctx.fly.secrets.list(options.appName)).map((secret) => secret.name));
    if (present.has(settings.secretName)) return NOTHING;
  }
  const minted = await mintUserJwt({
    key,
    supabaseUrl: ctx.config.supabaseUrl,
    userId: ctx.row.user_id,
    ttlSeconds: settings.ttlSeconds,
    now,
  });
  ctx.events.push({
    event_type: "credential_minted",
    status: "ok",
    metadata: {
      app_name: options.appName,
      secret_name: settings.secretName,
      expires_at: minted.expiresAt,
      key_id: minted.keyId,
      reason: expiresAt === null ? "missing" : stale ? "expiring_or_rotated" : "secret_missing",
    },
  });
  return {
    secrets: { [settings.secretName]: minted.token },
    patch: {
      credential_expires_at: minted.expiresAt,
      credential_key_id: minted.keyId,
      credential_jti: minted.jti,
    },
  };
}
