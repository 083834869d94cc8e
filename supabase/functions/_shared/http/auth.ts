/**
 * Caller authentication: the provisioner secret, as `Authorization: Bearer <secret>` or `apikey: <secret>`,
 * compared in constant time. The anon/publishable key is public, so it never authenticates anyone here
 * (configuration also rejects a provisioner secret equal to it).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import type { AppEnv } from "./env.ts";
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

/** Middleware answering 401 `unauthorized` unless the request presents the provisioner secret. */
export function requireProvisionerSecret(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!(await isAuthorized(c.req.raw.headers, c.var.config.provisionerSecret))) {
      throw new HttpError(401, "unauthorized", "missing or invalid provisioner secret", {
        headers: { "WWW-Authenticate": 'Bearer realm="provisioner"' },
      });
    }
    await next();
  };
}
