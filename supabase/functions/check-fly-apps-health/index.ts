/**
 * Edge Function `check-fly-apps-health`: one health sweep over the user apps (called by pg_cron every
 * minute): re-drives due work, observes and repairs apps, reports drift and orphans.
 * `POST {limit?, budget_ms?}` (202 at once; `?wait=true` answers with the sweep's report), `GET` for a summary.
 *
 * @module
 */
import { createFunctionApp } from "../_shared/http/app.ts";
import { healthHandlers } from "../_shared/handlers/health.ts";

const app = createFunctionApp({ name: "check-fly-apps-health", handlers: healthHandlers });

export default { fetch: app.fetch } satisfies Deno.ServeDefaultExport;
