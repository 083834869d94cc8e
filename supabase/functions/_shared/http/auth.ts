/**
 * Caller authentication by purpose. Two secrets, each presented as `Authorization: Bearer <secret>` or
 * `apikey: <secret>` and compared in constant time:
 *
 * - the admin secret (`PROVISIONER_SECRET`) opens every route: `fly-apps-admin`, `?wait=true`, GET;
 * - the kick secret (`KICK_SECRET`, the only one the database holds) opens only what a function declares
 *   kickable: a background reconcile of given users and a sweep. Anything else answers 403 and runs nothing.
 *
 * The anon/publishable key is public, so it never authenticates anyone here (configuration also rejects a
 * secret equal to it).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import type { AppEnv, CallerRole } from "./env.ts";
import { HttpError } from "./errors.ts";

/** The credentials a request presents: the bearer token and the `apikey` header, when present. */
export function presentedCredentials(headers: Headers): string[] {
  const credentials: string[] = [];
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.get("authorization") ?? "");
  if (bearer) credentials.push(bearer[1]);
  const apikey = headers.get("apikey")?.trim();
  if (apikey) credentials.push(apikey);
  return credentials;
}

/**
 * Whether any presented credential equals `secret`. Each comparison is constant-time (SHA-256 of both sides,
 * then a constant-time compare), and every credential is compared, so timing reveals neither the secret nor
 * which header matched.
 */
export async function isAuthorized(headers: Headers, secret: string): Promise<boolean> {
  const results = await Promise.all(presentedCredentials(headers).map((c) => timingSafeEqual(secret, c)));
  return results.includes(true);
}

/** The role of a request's credentials: `admin`, `kick`, or undefined (neither secret). */
export async function callerRole(
  headers: Headers,
  secrets: { admin: string; kick: string },
): Promise<CallerRole | undefined> {
  const [admin, kick] = await Promise.all([
    isAuthorized(headers, secrets.admin),
    isAuthorized(headers, secrets.kick),
  ]);
  return admin ? "admin" : kick ? "kick" : undefined;
}

/** Which requests the kick secret may make, per function (default: none). */
export type KickPolicy = (c: Context<AppEnv>) => boolean;

/** The kick policy of the per-user functions and the sweep: a POST that does not ask to wait. */
export const kickMayPostInBackground: KickPolicy = (c) =>
  c.req.method === "POST" && [undefined, "false"].includes(c.req.query("wait"));

/**
 * Middleware answering 401 `unauthorized` unless the request presents the admin or the kick secret, and 403
 * `forbidden` when it presents the kick secret for a request `kickPolicy` does not allow. Sets `caller`.
 */
export function requireSecret(kickPolicy: KickPolicy = () => false): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const config = c.var.config;
    const role = await callerRole(c.req.raw.headers, {
      admin: config.provisionerSecret,
      kick: config.kickSecret,
    });
    if (role === undefined) {
      throw new HttpError(401, "unauthorized", "missing or invalid secret", {
        headers: { "WWW-Authenticate": 'Bearer realm="provisioner"' },
      });
    }
    if (role === "kick" && !kickPolicy(c)) {
      throw new HttpError(
        403,
        "forbidden",
        "the kick secret only asks for background reconciles and sweeps; this needs the admin secret",
      );
    }
    c.set("caller", role);
    await next();
  };
}
