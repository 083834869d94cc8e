/**
 * Edge Function `provision-user-fly-app`: converges one user's dedicated Fly app to their current tier
 * (kicked by the tier-change trigger; callable by ops).
 * `POST {user_id, generation?, reason?}` (202 at once; `?wait=true` answers with the outcome),
 * `GET ?user_id=` for the user's state.
 *
 * @module
 */
import { createFunctionApp } from "../_shared/http/app.ts";
import { userAppHandlers } from "../_shared/handlers/user_app.ts";

const app = createFunctionApp({
  name: "provision-user-fly-app",
  handlers: userAppHandlers("provision-user-fly-app"),
});

export default { fetch: app.fetch } satisfies Deno.ServeDefaultExport;
