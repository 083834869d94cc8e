/**
 * Fly app names for user apps, keyed so that nobody can compute them from a user id.
 *
 * Name of attempt 0: `<prefix>-<first N hex chars of HMAC-SHA256(FLY_APP_NAME_KEY, user_id)>`.
 * Name of attempt k > 0: `<prefix>-<first N hex chars of HMAC-SHA256(FLY_APP_NAME_KEY, "<user_id>:<k>")>`.
 * After the keyed candidates, {@link randomAppName} draws random suffixes of the same shape.
 *
 * Fly app names are global across all Fly organisations, so a name can be held by someone else (GET answers
 * 403, create answers 422 `name_taken`). The engine then moves to the next attempt and records the name it
 * ended up with; an existing row keeps its recorded name (rows named before the key existed keep their
 * unkeyed names). Every candidate has the same shape and length, so `isManagedAppName` recognises all of them.
 * The user id is lower-cased first, so the textual form of the UUID does not change the name.
 *
 * @module
 */

/** Longest Fly app name we generate: the name is a DNS label in `<name>.fly.dev`, so at most 63 chars. */
export const FLY_APP_NAME_MAX_LENGTH = 63;

/** Fly's app name alphabet: lowercase letters, digits and dashes, starting with a letter, not ending with a dash. */
const FLY_APP_NAME_PATTERN = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/;

/** Hex chars in a SHA-256 digest: the upper bound for the hash length. */
const SHA256_HEX_LENGTH = 64;

/** How user app names are formed (from configuration). */
export interface AppNaming {
  /** Name prefix, e.g. `vyx-user`. */
  readonly prefix: string;
  /** How many hex chars of the HMAC-SHA256 digest follow the prefix. */
  readonly hashLength: number;
  /** The HMAC key (`FLY_APP_NAME_KEY`). Never log it. */
  readonly key: string;
}

/**
 * Whether `name` follows Fly's app name rules: lowercase letters, digits and dashes, starting with a letter,
 * not ending with a dash, at most {@link FLY_APP_NAME_MAX_LENGTH} chars.
 */
export function isValidFlyAppName(name: string): boolean {
  return name.length <= FLY_APP_NAME_MAX_LENGTH && FLY_APP_NAME_PATTERN.test(name);
}

/**
 * Why `naming` cannot produce valid app names, or `undefined` when it can.
 * The message names the offending setting but never contains a secret (there is none here).
 */
export function appNamingProblem(naming: Pick<AppNaming, "prefix" | "hashLength">): string | undefined {
  const { prefix, hashLength } = naming;
  if (!Number.isInteger(hashLength) || hashLength < 1 || hashLength > SHA256_HEX_LENGTH) {
    return `hash length must be an integer from 1 to ${SHA256_HEX_LENGTH}`;
  }
  const longest = prefix.length + 1 + hashLength;
  if (longest > FLY_APP_NAME_MAX_LENGTH) {
    return `prefix length + 1 + hash length is ${longest}, above Fly's maximum of ${FLY_APP_NAME_MAX_LENGTH}`;
  }
  if (!isValidFlyAppName(`${prefix}-${"0".repeat(hashLength)}`)) {
    return "prefix must start with a lowercase letter and contain only lowercase letters, digits and dashes";
  }
  return undefined;
}

/** Lowercase hex SHA-256 of a UTF-8 string (Web Crypto). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Lowercase hex HMAC-SHA256 of a UTF-8 string under `key` (Web Crypto). */
async function hmacHex(key: string, text: string): Promise<string> {
  const encoder = new TextEncoder();
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    encoder.encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(text));
  return Array.from(new Uint8Array(mac), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The app name candidate number `attempt` (0 = the preferred name) for a user, keyed with `naming.key`.
 * Deterministic: the same inputs always give the same name; different attempts give different names.
 *
 * @throws {RangeError} when `attempt` is not a non-negative integer or `naming` cannot produce a valid name.
 */
export async function appNameCandidate(userId: string, attempt: number, naming: AppNaming): Promise<string> {
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new RangeError("attempt must be a non-negative integer");
  }
  const problem = appNamingProblem(naming);
  if (problem) throw new RangeError(`invalid app naming: ${problem}`);
  const id = userId.trim().toLowerCase();
  const hash = await hmacHex(naming.key, attempt === 0 ? id : `${id}:${attempt}`);
  return `${naming.prefix}-${hash.slice(0, naming.hashLength)}`;
}

/** A random name of the managed shape: the fallback once every keyed candidate is taken. */
export function randomAppName(naming: AppNaming): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(naming.hashLength / 2)));
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${naming.prefix}-${hex.slice(0, naming.hashLength)}`;
}

/** Whether `name` has the shape of a name this naming scheme generates (any attempt), e.g. to find orphan apps. */
export function isManagedAppName(name: string, naming: Pick<AppNaming, "prefix" | "hashLength">): boolean {
  const suffix = name.slice(naming.prefix.length + 1);
  return name.startsWith(`${naming.prefix}-`) && suffix.length === naming.hashLength &&
    /^[0-9a-f]+$/.test(suffix);
}
