/** `GET /v1/apps/{app}/machines/{id}/wait`: long poll until a state, 408 at the deadline. */
import type { EmulatorCore } from "../core.ts";
import { FlyHttpError, invalidArgument } from "../http_error.ts";
import type { EmulatorContext, Operation } from "../operation.ts";
import { findApp, findMachine } from "../request.ts";
import type { MachineRecord } from "../records.ts";
import { isTransient } from "../transitions.ts";

const WAITABLE = new Set(["started", "stopped", "suspended", "destroyed", "failed", "settled"]);

function targetStates(c: EmulatorContext): string[] {
  const states = (c.req.queries("state") ?? []).flatMap((value) => value.split(",")).filter(Boolean);
  for (const state of states) if (!WAITABLE.has(state)) throw invalidArgument(`invalid state '${state}'`);
  return states.length > 0 ? states : ["started"];
}

function timeoutSeconds(c: EmulatorContext): number {
  const text = c.req.query("timeout");
  if (text === undefined) return 60;
  if (!/^-?\d+$/.test(text)) {
    throw invalidArgument(`invalid WaitMachineRequest.Timeout: '${text}' is not an integer`);
  }
  const seconds = Number(text);
  if (seconds < 1 || seconds > 60) {
    throw invalidArgument("invalid WaitMachineRequest.Timeout: value must be inside range [1s, 1m0s]");
  }
  return seconds;
}

function reaches(states: string[]): (machine: MachineRecord) => boolean {
  return (machine) =>
    states.includes(machine.state) ||
    (states.includes("settled") && !isTransient(machine.state) && !machine.launching);
}

/** The wait operation. */
export function waitOperations(core: EmulatorCore): Operation[] {
  return [{
    id: "Machines_wait",
    method: "GET",
    path: "/v1/apps/:app_name/machines/:machine_id/wait",
    handle: async (c) => {
      const machine = findMachine(findApp(core, c), c, true);
      const states = targetStates(c);
      const seconds = timeoutSeconds(c);
      const version = c.req.query("version") ?? c.req.query("instance_id");
      if (states.includes("stopped") && !version) {
        throw invalidArgument("instance_id is required when waiting for the stopped state");
      }
      if (version && version !== machine.version) {
        throw new FlyHttpError(412, `failed_precondition: machine version ${version} currently replaced`);
      }
      const reached = await core.lifecycle.waitFor(machine, reaches(states), seconds * 1000);
      if (!reached) {
        throw new FlyHttpError(
          408,
          `deadline_exceeded: machine failed to reach desired state, ${
            states.join(",")
          }, currently ${machine.state}`,
        );
      }
      return c.json({
        ok: true,
        state: machine.state,
        version: machine.version,
        event_id: machine.events[0]?.id,
      });
    },
  }];
}
