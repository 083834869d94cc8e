/**
 * The scoped credential a user's app holds instead of the service-role key: a JWT that Supabase (PostgREST,
 * Storage, Realtime) accepts as that user, so Row Level Security limits it to the user's own rows.
 *
 * Claims follow what Supabase Auth puts into a user's access token: `sub` = user id, `role` and `aud` =
 * `authenticated`, `iss` = `<SUPABASE_URL>/auth/v1`, `iat`, `exp`; plus {@link MACHINE_CREDENTIAL_CLAIM}
 * (true) so policies and logs can tell it from an interactive session, and a random `jti`.
 *
 * The token itself is only ever handed to the Fly secrets API: never stored, logged or put into an event.
 * What is recorded is its expiry and key id, from which {@link needsRemint} decides when to mint a new one.
 *
 * @module
 */
import { SignJWT } from "jose";
import type { SigningKey } from "./signing_key.ts";

/** Top-level claim set to `true` in every machine credential. */
export const MACHINE_CREDENTIAL_CLAIM = "machine_credential";
/** `role` and `aud` of the credential: Supabase's role for signed-in users. */
export const AUTHENTICATED_ROLE = "authenticated";

/** Options of {@link mintUserJwt}. */
export interface MintUserJwtOptions {
  /** The signing key ({@link importSigningKey}). */
  readonly key: SigningKey;
  /** The project URL (`SUPABASE_URL`); the issuer is its `/auth/v1`. */
  readonly supabaseUrl: string;
  /** The user the credential acts as (`sub`). */
  readonly userId: string;
  /** Lifetime in seconds. */
  readonly ttlSeconds: number;
  /** Issue time. Default now. */
  readonly now?: Date;
}

/** A minted credential. `token` is secret; `expiresAt` and `keyId` may be recorded. */
export interface MintedUserJwt {
  /** The signed JWT. Never log or store it. */
  readonly token: string;
  /** ISO time of `exp`. */
  readonly expiresAt: string;
  /** The signing key's id ({@link SigningKey.keyId}). */
  readonly keyId: string;
  /** The token's `jti`: recorded, so a re-mint or a deprovision can revoke this token by it. */
  readonly jti: string;
}

/** The `iss` Supabase Auth uses for a project: `<SUPABASE_URL>/auth/v1`. */
export function userJwtIssuer(supabaseUrl: string): string {
  return `${supabaseUrl.replace(/\/+$/, "")}/auth/v1`;
}

/** Mints a credential acting as `userId`. */
export async function mintUserJwt(options: MintUserJwtOptions): Promise<MintedUserJwt> {
  const issuedAt = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const expiresAt = issuedAt + options.ttlSeconds;
  const jti = crypto.randomUUID();
  const token = await new SignJWT({
    role: AUTHENTICATED_ROLE,
    is_anonymous: false,
    [MACHINE_CREDENTIAL_CLAIM]: true,
  })
    .setProtectedHeader({
      alg: options.key.alg,
      typ: "JWT",
      ...(options.key.kid ? { kid: options.key.kid } : {}),
    })
    .setSubject(options.userId)
    .setAudience(AUTHENTICATED_ROLE)
    .setIssuer(userJwtIssuer(options.supabaseUrl))
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .setJti(jti)
    .sign(options.key.key);
  return { token, expiresAt: new Date(expiresAt * 1000).toISOString(), keyId: options.key.keyId, jti };
}

/** What {@link needsRemint} compares. */
export interface RemintCheck {
  /** Recorded expiry of the app's current credential (null: none was ever set). */
  readonly expiresAt: string | Date | null;
  /** The configured lifetime of a credential, in seconds. */
  readonly ttlSeconds: number;
  /** Recorded key id of the current credential, if known. */
  readonly recordedKeyId?: string | null;
  /** Id of the key configured now; a different one means the old credential no longer verifies. */
  readonly currentKeyId?: string;
  /** Default now. */
  readonly now?: Date;
}

/**
 * Whether the app needs a new credential: it has none, it was signed with another key than the configured
 * one, or less than a third of a lifetime remains before it expires.
 */
export function needsRemint(check: RemintCheck): boolean {
  if (check.expiresAt === null) return true;
  if (check.currentKeyId !== undefined && check.recordedKeyId !== check.currentKeyId) return true;
  const remainingMs = new Date(check.expiresAt).getTime() - (check.now ?? new Date()).getTime();
  return Number.isNaN(remainingMs) || remainingMs < (check.ttlSeconds * 1000) / 3;
}
