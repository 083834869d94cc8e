/**
 * Image references: what counts as one, pinning a reference to a digest, and whether two references name the
 * same image. A leaf module: the engine, the rollout driver and the admin API's validation all read images
 * through it.
 *
 * @module
 */

/** The shape of an image reference the admin API accepts (`registry/name:tag` or `name@sha256:…`). */
export const IMAGE_REFERENCE_PATTERN = /^[a-z0-9][a-z0-9._\-/:@]{0,254}$/;

/**
 * The image reference that pins `image` to `digest`: `registry.fly.io/app:v2` + `sha256:…` →
 * `registry.fly.io/app@sha256:…` (the tag dropped, as flyctl deploys by digest).
 */
export function pinnedImage(image: string, digest: string): string {
  const name = image.split("@")[0];
  const tag = imageTag(name);
  return `${tag === null ? name : name.slice(0, -tag.length - 1)}@${digest}`;
}

/**
 * Whether `observed` (as the machine's config names it) runs the image `desired` names: the same reference,
 * or a tag of the same repository resolved to the digest `desired` pins (`registry/app:v2` running
 * `sha256:…` is `registry/app@sha256:…`; a rollout's first machine gets the tag, the others the digest).
 */
export function sameImage(observed: string | undefined, desired: string | undefined, digest?: string | null) {
  if (observed === desired) return true;
  if (!observed || !desired || !digest || !desired.endsWith(`@${digest}`)) return false;
  return pinnedImage(observed, digest) === desired;
}

/**
 * Whether a machine whose config names `observed` and that runs `digests.observed` runs `desired` held to
 * `digests.desired` (a rollback's previous image): the same repository at that digest, whether its config names
 * the tag or `repo@digest`.
 */
export function heldToDigest(
  observed: string | undefined,
  desired: string | undefined,
  digests: { observed?: string | null; desired?: string },
): boolean {
  if (!observed || !desired || !digests.desired || digests.observed !== digests.desired) return false;
  return pinnedImage(observed, digests.desired) === pinnedImage(desired, digests.desired);
}

/** The tag of an image reference (`registry.fly.io/app:v2` → `v2`), or null when it has none (`…@sha256:…`). */
export function imageTag(image: string): string | null {
  const name = image.split("@")[0];
  const tagAt = name.lastIndexOf(":");
  return tagAt > name.lastIndexOf("/") ? name.slice(tagAt + 1) : null;
}
