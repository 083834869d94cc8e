/** Identifiers shaped like Fly's: machine ids, ULID versions, lease nonces, app ids. */

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function randomHex(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(length / 2)));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("").slice(0, length);
}

/** A 26-character ULID (time-ordered), as used for machine versions, events and request ids. */
export function newUlid(now: number = Date.now()): string {
  let time = "";
  for (let rest = now, i = 0; i < 10; i++, rest = Math.floor(rest / 32)) time = CROCKFORD[rest % 32] + time;
  const random = Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => CROCKFORD[byte % 32]).join(
    "",
  );
  return time + random;
}

/** A 14-hex-digit machine id, e.g. `1857156b526dd8`. */
export function newMachineId(): string {
  return randomHex(14);
}

/** A 12-hex-digit lease nonce. */
export function newLeaseNonce(): string {
  return randomHex(12);
}

/** A 16-character app id. */
export function newAppId(): string {
  return randomHex(16);
}

/** A 6PN private address in network number `network` (its third group, as on Fly). */
export function newPrivateIp(network: number): string {
  return `fdaa:0:${network.toString(16)}:a7b:${randomHex(4)}:${randomHex(4)}:${randomHex(4)}:2`;
}

/** A generated machine name like `aged-thunder-7371`. */
export function newMachineName(): string {
  const adjectives = ["aged", "bold", "calm", "dry", "late", "quiet", "red", "still"];
  const nouns = ["thunder", "river", "meadow", "forest", "cloud", "stone", "wind", "frost"];
  const pick = (words: string[]) => words[Math.floor(Math.random() * words.length)];
  return `${pick(adjectives)}-${pick(nouns)}-${1000 + Math.floor(Math.random() * 9000)}`;
}

/** Random hex of the given length, for fake digests and addresses. */
export { randomHex };
