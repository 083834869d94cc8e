/**
 * What every admin route needs from a request: the acting operator (`X-Actor`), the repositories and the
 * engine on the instance's shared connections, and SQL errors mapped to HTTP.
 *
 * @module
 */
import type { Context } from "hono";
import { getSql } from "../db/client.ts";
import { AdminRepository } from "../db/admin.ts";
import { engineDeps } from "../handlers/engine_deps.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpError } from "../http/errors.ts";
import { attemptOwner } from "../http/lease_owner.ts";
import { imageNotAllowed } from "../image_allowed.ts";
import type { EngineDeps } from "../engine/context.ts";

/** An operator name in `X-Actor`: letters, digits and `.`, `_`, `@`, `-`, at most 64 characters. */
const ACTOR_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

/**
 * The actor recorded in events and holds: `ops` (whoever holds the admin secret), or `claimed:<X-Actor>` when
 * the request names an operator. Only admin-secret callers reach the admin routes, but the name is still
 * their claim, recorded as such: the console or an SSO proxy in front of the API must set it (README: Audit).
 * 400 for a malformed header.
 */
export function actorOf(c: Context<AppEnv>): string {
  const name = c.req.header("x-actor")?.trim();
  if (name === undefined || name === "") return "ops";
  if (!ACTOR_NAME.test(name)) {
    throw new HttpError(400, "invalid_request", "X-Actor must be 1-64 letters, digits or . _ @ -", {
      field: "X-Actor",
    });
  }
  return `claimed:${name}`;
}

/**
 * Refuses an image from outside `FLY_IMAGE_ALLOWED` (default: the repository of `FLY_APP_IMAGE`) with a 400
 * naming `image`: rollouts and per-user overrides both go through here.
 */
export function assertImageAllowed(c: Context<AppEnv>, image: string | undefined): void {
  if (image === undefined) return;
  const { appImage, imageAllowed } = c.get("config").fly;
  const problem = imageNotAllowed(image, { allowed: imageAllowed, fallbackImage: appImage });
  if (problem) throw new HttpError(400, "invalid_request", `image ${problem}`, { field: "image" });
}

/** The admin repository on the instance's shared pool. */
export function adminRepo(c: Context<AppEnv>): AdminRepository {
  return new AdminRepository(getSql(c.get("config").db));
}

/** The engine's dependencies (Fly client, rows, configuration) for this request. */
export function engine(c: Context<AppEnv>): EngineDeps {
  return engineDeps(c.get("config"), c.get("log"));
}

/** A lease owner unique to this attempt (never the caller's request id: see http/lease_owner.ts). */
export function ownerOf(): string {
  return attemptOwner("fly-apps-admin");
}

/** Runs a database action, answering 404 for a missing row (P0002) and 409 for a refused state (55000). */
export async function sqlAction<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === "P0002") throw new HttpError(404, "not_found", message ?? "not found");
    if (code === "55000") throw new HttpError(409, "conflict", message ?? "refused in this state");
    if (code === "22023") throw new HttpError(400, "invalid_request", message ?? "invalid value");
    throw error;
  }
}
