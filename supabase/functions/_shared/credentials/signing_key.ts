/**
 * The key user credentials are signed with (`USER_JWT_SIGNING_KEY`), in one of the two forms Supabase Auth
 * verifies:
 *
 * - the project's legacy JWT secret (a shared secret, HS256; Supabase verifies it as is, no `kid`);
 * - an asymmetric signing key imported into the project (JWT Signing Keys), given here as its private JWK with
 *   its `kid`: EC P-256 (ES256), RSA (RS256) or Ed25519 (EdDSA). Supabase picks the public key by the token's
 *   `kid` header, so the `kid` must be the one the key has in the project.
 *
 * {@link parseSigningKey} checks the text synchronously (for the configuration's error messages, which never
 * include the key); {@link importSigningKey} turns it into a key `jose` signs with.
 *
 * @module
 */
import { importJWK, type JWK } from "jose";
import { z } from "zod";

/** Shortest legacy JWT secret accepted (Supabase's are at least 32 characters). */
export const MIN_SHARED_SECRET_LENGTH = 32;

/** Signature algorithms of the supported key types. */
export type SigningAlgorithm = "HS256" | "ES256" | "RS256" | "EdDSA";

/** A parsed `USER_JWT_SIGNING_KEY`. Holds key material: never log it. */
export type SigningKeySource =
  | { readonly kind: "shared_secret"; readonly secret: string }
  | { readonly kind: "private_jwk"; readonly jwk: JWK; readonly alg: SigningAlgorithm; readonly kid: string };

/** A key ready to sign with, and the id recorded with each credential it signs. */
export interface SigningKey {
  /** JWS algorithm. */
  readonly alg: SigningAlgorithm;
  /** `kid` header of the tokens (asymmetric keys only). */
  readonly kid?: string;
  /**
   * Id recorded as `credential_key_id`: the `kid`, or for the shared secret `hs256:` and the first 16 hex
   * digits of its SHA-256 (a fingerprint, so rotating the secret shows as a key change; not the secret).
   */
  readonly keyId: string;
  /** The key material in the form `jose` signs with. */
  readonly key: CryptoKey | Uint8Array;
}

/** A signing key that cannot be used; the message never contains key material. */
export class SigningKeyError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "SigningKeyError";
  }
}

const PrivateJwkSchema = z.looseObject({
  kty: z.enum(["EC", "RSA", "OKP"], { error: "kty must be EC, RSA or OKP" }),
  kid: z.string({ error: "kid is required" }).min(1, "kid is required"),
  d: z.string({ error: "must be a private key (no d member)" }),
  crv: z.string().optional(),
  alg: z.string().optional(),
});

function algorithmOf(jwk: z.infer<typeof PrivateJwkSchema>): SigningAlgorithm {
  const alg: SigningAlgorithm | undefined = jwk.kty === "RSA"
    ? "RS256"
    : jwk.kty === "EC" && jwk.crv === "P-256"
    ? "ES256"
    : jwk.kty === "OKP" && jwk.crv === "Ed25519"
    ? "EdDSA"
    : undefined;
  if (!alg) throw new SigningKeyError("JWK must be RSA, EC P-256 or OKP Ed25519");
  if (jwk.alg !== undefined && jwk.alg !== alg && !(alg === "EdDSA" && jwk.alg === "Ed25519")) {
    throw new SigningKeyError(`JWK alg ${jwk.alg} does not match its key type (expected ${alg})`);
  }
  return alg;
}

/**
 * Parses the configured text: a JSON object is a private JWK, anything else the legacy JWT secret.
 *
 * @throws {SigningKeyError} saying what is wrong, without the key.
 */
export function parseSigningKey(text: string): SigningKeySource {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) {
    if (trimmed.length < MIN_SHARED_SECRET_LENGTH) {
      throw new SigningKeyError(
        `must be the legacy JWT secret (at least ${MIN_SHARED_SECRET_LENGTH} characters) or a private JWK`,
      );
    }
    return { kind: "shared_secret", secret: trimmed };
  }
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    throw new SigningKeyError("looks like a JWK but is not valid JSON");
  }
  const parsed = PrivateJwkSchema.safeParse(json);
  if (!parsed.success) {
    throw new SigningKeyError(`is not a usable private JWK: ${parsed.error.issues[0].message}`);
  }
  return {
    kind: "private_jwk",
    jwk: parsed.data as JWK,
    alg: algorithmOf(parsed.data),
    kid: parsed.data.kid,
  };
}

async function fingerprint(secret: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)));
  return Array.from(digest.slice(0, 8), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The key to sign with.
 *
 * @throws {SigningKeyError} when the JWK's numbers do not form a valid key.
 */
export async function importSigningKey(source: SigningKeySource): Promise<SigningKey> {
  if (source.kind === "shared_secret") {
    return {
      alg: "HS256",
      keyId: `hs256:${await fingerprint(source.secret)}`,
      key: new TextEncoder().encode(source.secret),
    };
  }
  let key: CryptoKey | Uint8Array;
  try {
    key = await importJWK({ ...source.jwk, alg: source.alg }, source.alg);
  } catch {
    throw new SigningKeyError(`the private JWK ${source.kid} could not be imported as an ${source.alg} key`);
  }
  return { alg: source.alg, kid: source.kid, keyId: source.kid, key };
}
