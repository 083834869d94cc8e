/**
 * Edge Function `fly-apps-admin`: the operations API (apps, events, retry, hold, restart, orphans, usage and
 * costs, sweep runs, migration, doctor) for the ops CLI and the console; routes in `_shared/admin/app.ts`.
 *
 * @module
 */
import { createAdminApp } from "../_shared/admin/app.ts";

const app = createAdminApp();

export default { fetch: app.fetch } satisfies Deno.ServeDefaultExport;
