/**
 * The engine's long-lived dependencies for a function instance: one Fly client (so its rate limiter sees all
 * of the instance's calls) and one repository on the shared Postgres pool, built once per configuration.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { getSql } from "../db/client.ts";
import { UserFlyAppsRepository } from "../db/user_fly_apps.ts";
import { createFlyClient } from "../fly/mod.ts";
import type { Logger } from "../log.ts";
import type { EngineDeps } from "../reconcile/context.ts";

const built = new WeakMap<Config, Omit<EngineDeps, "log">>();

/** The engine dependencies for `config`, logging to `log` (the request's logger). */
export function engineDeps(config: Config, log: Logger): EngineDeps {
  let shared = built.get(config);
  if (!shared) {
    const fly = createFlyClient({
      token: config.fly.apiToken,
      baseUrl: config.fly.apiBaseUrl,
      timeoutMs: config.fly.requestTimeoutMs,
    });
    shared = { config, fly, repo: new UserFlyAppsRepository(getSql(config.db)) };
    built.set(config, shared);
  }
  return { ...shared, log };
}
