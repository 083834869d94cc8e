/**
 * The emulated image registry: how machine create/update resolve `config.image` to the `image_ref` Fly reports.
 *
 * - A tag reference resolves to a digest that stays the same until the tag is pushed again
 *   ({@link ImageRegistry.push}: same tag, new digest). A digest reference (`repo@sha256:…`) resolves to that
 *   digest when the registry ever served it for that repository.
 * - A reference that does not resolve (never pushed digest, or a tag {@link ImageRegistry.remove}d) fails the
 *   create/update as Fly fails to pull it: 400 `failed to get manifest <ref>: … MANIFEST_UNKNOWN …`.
 * - The registry and repository are reported as Fly does: `registry.fly.io/<repo>:<tag>` → registry
 *   `registry.fly.io`, repository `<repo>`; Docker Hub names go through Fly's mirror
 *   (`docker-hub-mirror.fly.io`, official images under `library/`).
 * - What the image does once booted follows its tag: `…-broken` boots but never passes its health checks,
 *   `…-crash` (or an image matching the emulator's `unpullableImage`) fails to start (state `failed`).
 *
 * @module
 */
import { FlyHttpError } from "./http_error.ts";

/** Fly's `ImageRef`. */
export interface ImageRef {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  labels: Record<string, string>;
}

/** What a booted machine of the image does. */
export type ImageBehaviour = "healthy" | "broken" | "crash";

/** An image reference as resolved at create/update time (a later push does not change a machine's). */
export interface ResolvedImage {
  readonly ref: ImageRef;
  readonly behaviour: ImageBehaviour;
}

/** Where Fly pulls Docker Hub images from (what `image_ref.registry` says for them). */
export const DOCKER_HUB_MIRROR = "docker-hub-mirror.fly.io";

/** A parsed image reference: `[registry/]repository[:tag][@digest]`. */
export interface ParsedImage {
  registry: string;
  repository: string;
  /** Empty for a digest reference without a tag. */
  tag: string;
  /** `sha256:…` of a digest reference. */
  digest?: string;
}

/** Parses an image reference with Docker's rules (first component with `.`/`:` or `localhost` is a host). */
export function parseImageReference(image: string): ParsedImage {
  const [name, digest] = image.split("@", 2);
  const tagAt = name.lastIndexOf(":");
  const hasTag = tagAt > name.lastIndexOf("/");
  const path = hasTag ? name.slice(0, tagAt) : name;
  const tag = hasTag ? name.slice(tagAt + 1) : digest ? "" : "latest";
  const [first, ...rest] = path.split("/");
  const isHost = rest.length > 0 && (first.includes(".") || first.includes(":") || first === "localhost");
  if (isHost) return { registry: first, repository: rest.join("/"), tag, digest };
  return { registry: DOCKER_HUB_MIRROR, repository: rest.length ? path : `library/${path}`, tag, digest };
}

/** `registry/repository:tag` or `registry/repository@digest`, as Fly's pull errors name an image. */
function canonical(parsed: ParsedImage): string {
  const base = `${parsed.registry}/${parsed.repository}`;
  return parsed.digest ? `${base}@${parsed.digest}` : `${base}:${parsed.tag}`;
}

function behaviourOf(tag: string): ImageBehaviour {
  if (tag.endsWith("-broken")) return "broken";
  if (tag.endsWith("-crash")) return "crash";
  return "healthy";
}

/** The 400 Fly answers when a machine's image cannot be pulled (text as the live API answers it). */
function manifestUnknown(parsed: ParsedImage): FlyHttpError {
  const detail = parsed.digest ? `unknown digest=${parsed.digest}` : `unknown tag=${parsed.tag}`;
  const registryBody = JSON.stringify({
    errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail }],
  });
  return new FlyHttpError(
    400,
    `failed to get manifest ${canonical(parsed)}: request failed: not found [http 404]: ${registryBody}`,
  );
}

/** One entry of {@link ImageRegistry.list}. */
export interface RegistryEntry {
  image: string;
  digest: string | null;
  pushes: number;
}

/** Tags, their pushes, and the digests served so far. One per emulator. */
export class ImageRegistry {
  readonly #digestOf: (text: string) => string;
  readonly #crashes: RegExp;
  /** Pushes per canonical tag reference (0: the implicit first push); absent tags resolve at push 0. */
  readonly #pushes = new Map<string, number>();
  /** Canonical tag references removed from the registry. */
  readonly #removed = new Set<string>();
  /** Digests served, by `registry/repository@digest`, with the behaviour of the tag they were built as. */
  readonly #served = new Map<string, ImageBehaviour>();

  /**
   * @param digestOf a stable 64-hex digest of a text
   * @param crashes images matching this fail to start, whatever their tag
   */
  constructor(digestOf: (text: string) => string, crashes: RegExp) {
    this.#digestOf = digestOf;
    this.#crashes = crashes;
  }

  /** Resolves `image` as a create/update does; throws Fly's 400 when it cannot be pulled. */
  resolve(image: string): ResolvedImage {
    const parsed = parseImageReference(image);
    const crash = this.#crashes.test(image);
    if (parsed.digest) {
      const behaviour = this.#served.get(canonical(parsed));
      if (behaviour === undefined) throw manifestUnknown(parsed);
      return this.#resolved(parsed, parsed.digest, crash ? "crash" : behaviour);
    }
    const key = canonical(parsed);
    if (this.#removed.has(key)) throw manifestUnknown(parsed);
    const digest = this.#tagDigest(key);
    const behaviour = crash ? "crash" : behaviourOf(parsed.tag);
    this.#served.set(`${parsed.registry}/${parsed.repository}@${digest}`, behaviour);
    return this.#resolved(parsed, digest, behaviour);
  }

  /** Pushes the tag again (a new build): it resolves again, to a new digest, which is returned. */
  push(image: string): string {
    const parsed = parseImageReference(image);
    if (parsed.digest) throw new FlyHttpError(400, "push a tag, not a digest reference");
    const key = canonical(parsed);
    this.#removed.delete(key);
    this.#pushes.set(key, (this.#pushes.get(key) ?? 0) + 1);
    return this.resolve(image).ref.digest;
  }

  /** Removes the tag from the registry: creates and updates with it fail until it is pushed again. */
  remove(image: string): void {
    const parsed = parseImageReference(image);
    if (parsed.digest) throw new FlyHttpError(400, "remove a tag, not a digest reference");
    this.#removed.add(canonical(parsed));
  }

  /** Tags pushed or removed explicitly, with their current digest (null: removed). */
  list(): RegistryEntry[] {
    const keys = new Set([...this.#pushes.keys(), ...this.#removed]);
    return [...keys].sort().map((image) => ({
      image,
      digest: this.#removed.has(image) ? null : this.#tagDigest(image),
      pushes: this.#pushes.get(image) ?? 0,
    }));
  }

  /** Forgets pushes, removals and served digests. */
  reset(): void {
    this.#pushes.clear();
    this.#removed.clear();
    this.#served.clear();
  }

  #tagDigest(key: string): string {
    return `sha256:${this.#digestOf(`${key}#${this.#pushes.get(key) ?? 0}`)}`;
  }

  #resolved(parsed: ParsedImage, digest: string, behaviour: ImageBehaviour): ResolvedImage {
    return {
      ref: { registry: parsed.registry, repository: parsed.repository, tag: parsed.tag, digest, labels: {} },
      behaviour,
    };
  }
}
