/**
 * Edge Function `check-fly-apps-health`: one health sweep over the user apps (called by pg_cron).
 * `POST {limit?, budget_ms?}` (`?wait=true` for ops), `GET` for a summary.
 * The handlers answer 501 until the reconcile engine is wired in.
 *
 * @module
 */
import { createFunctionApp } from "../_shared/http/app.ts";
import { notImplemented } from "../_shared/http/errors.ts";

const app = createFunctionApp({
  name: "check-fly-apps-health",
  handlers: { post: notImplemented, get: notImplemented },
});

export default { fetch: app.fetch } satisfies Deno.ServeDefaultExport;
