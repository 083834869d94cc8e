/**
 * Which images user apps may run: `FLY_IMAGE_ALLOWED`, a list of repositories (`registry.fly.io/backend`:
 * any tag or digest of that repository) and registry/namespace prefixes ending in `/` (`registry.fly.io/acme/`:
 * anything below it). By default only the repository of `FLY_APP_IMAGE`. A leaf module: rollouts, plan edits
 * and per-user overrides all ask {@link imageNotAllowed} before an image is recorded.
 *
 * @module
 */

/** The repository an image reference names: without its `@digest` and its `:tag` (a registry port stays). */
function repositoryOf(image: string): string {
  const name = image.split("@")[0];
  const tagAt = name.lastIndexOf(":");
  return tagAt > name.lastIndexOf("/") ? name.slice(0, tagAt) : name;
}

/**
 * Why `image` may not run on user apps given the `allowed` entries (see the module doc), or undefined when it
 * may. With no entries, only the repository of `fallbackImage` (the configured `FLY_APP_IMAGE`) is allowed.
 */
export function imageNotAllowed(
  image: string,
  { allowed, fallbackImage }: { allowed: readonly string[]; fallbackImage: string },
): string | undefined {
  const entries = allowed.length > 0 ? allowed : [repositoryOf(fallbackImage)];
  const repository = repositoryOf(image);
  const ok = entries.some((entry) =>
    entry.endsWith("/") ? repository.startsWith(entry) : repository === entry
  );
  return ok ? undefined : `is not from an allowed repository (FLY_IMAGE_ALLOWED: ${entries.join(", ")})`;
}
