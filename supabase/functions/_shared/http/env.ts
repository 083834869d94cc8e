/**
 * The hono environment shared by the functions' apps: what middleware puts on the context for handlers.
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";

/** Which secret authenticated the request: the admin secret, or the kick secret the database holds. */
export type CallerRole = "admin" | "kick";

/** Context variables set by the app factory before any handler runs. */
export interface AppVariables {
  /** The request id (incoming `x-request-id` when well-formed, else generated); echoed as a response header. */
  requestId: string;
  /** The validated configuration. */
  config: Config;
  /** Which secret authenticated the request (set by the auth middleware). */
  caller: CallerRole;
  /** Logger for this request: carries `request_id` and `function`, redacts the configured secrets. */
  log: Logger;
}

/** Hono environment of every function app. */
export interface AppEnv {
  /** See {@link AppVariables}. */
  Variables: AppVariables;
}
