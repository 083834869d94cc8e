/**
 * Edge Function `deprovision-user-fly-app`: converges one user's dedicated Fly app to their current tier
 * after a downgrade (kicked by the tier-change trigger; callable by ops). The tier decides: a user who is
 * paid again by the time this runs keeps their app.
 * `POST {user_id, generation?, reason?}` (202 at once; `?wait=true` answers with the outcome),
 * `GET ?user_id=` for the user's state.
 *
 * @module
 */
import { createFunctionApp } from "../_shared/http/app.ts";
import { userAppHandlers } from "../_shared/handlers/user_app.ts";

const app = createFunctionApp({
  name: "deprovision-user-fly-app",
  handlers: userAppHandlers("deprovision-user-fly-app"),
});

export default { fetch: app.fetch } satisfies Deno.ServeDefaultExport;
