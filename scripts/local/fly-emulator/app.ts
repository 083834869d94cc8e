/** Assembles the emulator's hono app: the `/v1` operations, the `/_emulator` control routes and `/_proxy`. */
import { Hono } from "hono";
import type { EmulatorCore } from "./core.ts";
import { FlyHttpError } from "./http_error.ts";
import { type EmulatorEnv, registerOperations } from "./operation.ts";
import { type FlyProxy, registerProxyRoutes } from "./proxy.ts";
import { appOperations } from "./routes/apps.ts";
import { registerControlRoutes } from "./routes/control.ts";
import { registerImageRoutes } from "./routes/images.ts";
import { ipAssignmentOperations } from "./routes/ip_assignments.ts";
import { leaseOperations } from "./routes/leases.ts";
import { machineActionOperations } from "./routes/machine_actions.ts";
import { machineOperations } from "./routes/machines.ts";
import { metadataOperations } from "./routes/metadata.ts";
import { orgMachineOperations } from "./routes/org_machines.ts";
import { secretOperations } from "./routes/secrets.ts";
import { registerVolumeControlRoutes } from "./routes/volume_control.ts";
import { volumeOperations } from "./routes/volumes.ts";
import { waitOperations } from "./routes/wait.ts";

/** Builds the hono app over `core`, with `proxy` answering `/_proxy/{app}` (requests to `{app}.fly.dev`). */
export function createEmulatorApp(core: EmulatorCore, proxy: FlyProxy): Hono<EmulatorEnv> {
  const app = new Hono<EmulatorEnv>();
  registerControlRoutes(app, core);
  registerProxyRoutes(app, proxy);
  registerVolumeControlRoutes(app, core);
  registerImageRoutes(app, core);
  registerOperations(app, core, [
    ...appOperations(core),
    ...ipAssignmentOperations(core),
    ...secretOperations(core),
    ...machineOperations(core),
    ...machineActionOperations(core),
    ...waitOperations(core),
    ...leaseOperations(core),
    ...metadataOperations(core),
    ...orgMachineOperations(core),
    ...volumeOperations(core),
  ]);
  app.notFound((c) => c.json({ error: "not_found: no such route" }, 404));
  app.onError((error, c) => {
    if (error instanceof FlyHttpError) return c.json(error.body(), error.status as 400);
    return c.json({ error: `internal: ${error.message}` }, 500);
  });
  return app;
}
