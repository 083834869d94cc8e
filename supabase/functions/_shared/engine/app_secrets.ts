/**
 * The secrets each user app receives, and a digest of them to store instead of the values.
 *
 * Which secrets are passed is configuration (`FLY_APP_SECRETS`, parsed in `config.ts`); this module turns it
 * into the map sent to Fly's secrets API and a digest that detects drift without keeping any value in the DB.
 *
 * @module
 */
import type { AppSecretSource } from "../config.ts";
import { sha256Hex } from "./app_name.ts";

/** Fly secret name → value, for one user app. */
export type AppSecrets = Readonly<Record<string, string>>;

/** The secret name → value map a user app receives, from the configured sources. */
export function appSecretValues(sources: readonly AppSecretSource[]): AppSecrets {
  return Object.fromEntries(sources.map((source) => [source.name, source.value]));
}

/**
 * Stable hex SHA-256 digest of a secrets map: independent of key order, different whenever a name or a value
 * changes. The input is encoded as JSON of the `[name, value]` pairs sorted by name, so no choice of names or
 * values can make two different maps encode alike.
 */
export function appSecretsDigest(secrets: AppSecrets): Promise<string> {
  const pairs = Object.entries(secrets).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return sha256Hex(JSON.stringify(pairs));
}
