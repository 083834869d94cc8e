/** Signing keys for the credential tests: a legacy-style secret and fresh ES256 key pairs. */
import { exportJWK, generateKeyPair } from "jose";

/** A legacy-style JWT secret (test value). */
export const LEGACY_SECRET = "test-legacy-jwt-secret-with-at-least-32-chars";

/** A fresh ES256 key pair: the private JWK (with kid) as configured, and the public key to verify with. */
export async function es256Key(kid = "test-kid-1") {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "ES256" }, publicKey };
}
