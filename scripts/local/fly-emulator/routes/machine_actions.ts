/** `POST /v1/apps/{app}/machines/{id}/{start,stop,suspend,restart,cordon,uncordon}`. */
import { z } from "zod";
import type { EmulatorCore } from "../core.ts";
import type { EmulatorContext, Operation } from "../operation.ts";
import { findApp, findMachine, readBody, requireLeaseNonce } from "../request.ts";
import type { AppRecord, MachineRecord } from "../records.ts";
import { restart, start, stop, suspend } from "../transitions.ts";

const StopBody = z.looseObject({
  signal: z.enum(["SIGHUP", "SIGINT", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGTERM"]).optional(),
  timeout: z.string().optional(),
});

type Action = (c: EmulatorContext, app: AppRecord, machine: MachineRecord) => Response | Promise<Response>;

function action(core: EmulatorCore, id: string, name: string, run: Action): Operation {
  return {
    id,
    method: "POST",
    path: `/v1/apps/:app_name/machines/:machine_id/${name}`,
    handle: (c) => {
      const app = findApp(core, c);
      const machine = findMachine(app, c);
      requireLeaseNonce(machine, c);
      return run(c, app, machine);
    },
  };
}

/** The machine action operations. Answers follow the docs (`{ok: true}`, start's `previous_state`). */
export function machineActionOperations(core: EmulatorCore): Operation[] {
  return [
    action(core, "Machines_start", "start", (c, app, machine) => {
      const previous = start(core, app, machine);
      return c.json({ previous_state: previous, migrated: false, new_host: "" });
    }),
    action(core, "Machines_stop", "stop", async (c, app, machine) => {
      await readBody(c, StopBody, true);
      stop(core, app, machine);
      return c.json({ ok: true });
    }),
    action(core, "Machines_suspend", "suspend", (c, app, machine) => {
      suspend(core, app, machine);
      return c.json({ ok: true });
    }),
    action(core, "Machines_restart", "restart", (c, app, machine) => {
      restart(core, app, machine);
      return c.json({ ok: true });
    }),
    action(core, "Machines_cordon", "cordon", (c, _app, machine) => {
      machine.cordoned = true;
      return c.json({ ok: true });
    }),
    action(core, "Machines_uncordon", "uncordon", (c, _app, machine) => {
      machine.cordoned = false;
      return c.json({ ok: true });
    }),
  ];
}
