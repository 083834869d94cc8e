/**
 * Edge Function `provision-user-fly-app`: provisions (or repairs) one user's dedicated Fly app.
 * `POST {user_id, generation?, reason?}` (`?wait=true` for ops), `GET ?user_id=` for the user's state.
 * The handlers answer 501 until the reconcile engine is wired in.
 *
 * @module
 */
import { createFunctionApp } from "../_shared/http/app.ts";
import { notImplemented } from "../_shared/http/errors.ts";

const app = createFunctionApp({
  name: "provision-user-fly-app",
  handlers: { post: notImplemented, get: notImplemented },
});

export default { fetch: app.fetch } satisfies Deno.ServeDefaultExport;
