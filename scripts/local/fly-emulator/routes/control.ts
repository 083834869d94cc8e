/**
 * Control and inspection routes outside `/v1`, for tests and the dev stack (no token):
 *
 * - `GET /_emulator/state`: every app with its secrets (values included), IPs, machines (each with its
 *   private network) and volumes (with host and content fingerprint), the private networks and their apps,
 *   the org's snapshots, the volumes deleted so far (each with the newest snapshot of it that was `created`
 *   then), plus request counts
 * - `GET /_emulator/reachable?from={machine_id}&to={private_ip}`: whether that machine can reach that private
 *   address: only within one private network (`{reachable}`)
 * - `GET /_emulator/requests`: answers per operation and status
 * - `POST /_emulator/reset`: forget all apps, counts and faults
 * - `GET|POST|DELETE /_emulator/faults`, `DELETE /_emulator/faults/{id}`: fault rules
 * - `PUT /_emulator/reserved-names` `{names}`: app names held by another organization
 * - `POST /_emulator/apps/{app}/machines/{id}/state` `{state}`: change a machine's state behind the client's back
 * - `GET|PUT /_emulator/org-machines` `{max_page_size?, empty_pages?, error_regions?, deleted_retention_ms?}`:
 *   knobs of the org machine listing (short pages, empty pages, partial answers, how long destroyed machines
 *   stay listed); a PUT changes only the fields it names
 *
 * Volume data, hosts, snapshots and the emulated clock have their own routes (volume_control.ts).
 */
import { z } from "zod";
import type { Hono } from "hono";
import { defaultOrgListingBehaviour, type EmulatorCore } from "../core.ts";
import { FlyHttpError } from "../http_error.ts";
import type { EmulatorEnv } from "../operation.ts";
import { readBody } from "../request.ts";
import { appView, machineView } from "../views.ts";
import { snapshotView } from "../snapshots.ts";
import { volumeView } from "./volumes.ts";

/** A machine state the control route can force. */
export type ForcedMachineState = "started" | "stopped" | "suspended" | "failed";

const FaultRuleBody = z.object({
  operation: z.string().min(1),
  probability: z.number().min(0).max(1).optional(),
  times: z.number().int().positive().optional(),
  action: z.discriminatedUnion("type", [
    z.object({
      type: z.literal("status"),
      status: z.union([z.literal(429), z.literal(500), z.literal(502), z.literal(503), z.literal(504)]),
      retryAfterSeconds: z.number().nonnegative().optional(),
    }),
    z.object({ type: z.literal("reset") }),
    z.object({ type: z.literal("drop-response") }),
    z.object({ type: z.literal("delay"), ms: z.number().int().nonnegative() }),
  ]),
});

const OrgListingBody = z.object({
  max_page_size: z.number().int().min(1).max(1000).optional(),
  empty_pages: z.number().int().nonnegative().optional(),
  error_regions: z.array(z.string().min(1)).optional(),
  deleted_retention_ms: z.number().int().nonnegative().optional(),
});

/** The org listing knobs in the control API's spelling. */
function orgListingView(core: EmulatorCore) {
  const behaviour = core.orgListing;
  return {
    max_page_size: behaviour.maxPageSize,
    empty_pages: behaviour.emptyPages,
    error_regions: behaviour.errorRegions,
    deleted_retention_ms: behaviour.deletedRetentionMs,
  };
}

/** Everything the emulator holds, for assertions. */
export function snapshot(core: EmulatorCore) {
  return {
    org_slug: core.config.orgSlug,
    latency: core.config.latency.name,
    reserved_names: [...core.store.reservedNames],
    apps: [...core.store.apps.values()].map((app) => ({
      ...appView(app),
      secrets_version: app.secretsVersion,
      secrets: [...app.secrets].map(([name, secret]) => ({
        name,
        value: secret.value,
        digest: secret.digest,
      })),
      ips: app.ips,
      machines: [...app.machines.values()].map((machine) => ({
        ...machineView(machine, true),
        lease_nonce: machine.lease?.nonce,
        network: app.network,
      })),
      volumes: [...app.volumes.values()].map((volume) => ({
        ...volumeView(app, volume),
        host: volume.host,
        data: volume.data,
      })),
    })),
    snapshots: [...core.store.snapshots.values()].map((snapshot) => ({
      ...snapshotView(snapshot),
      volume_id: snapshot.volumeId,
      region: snapshot.region,
      data: snapshot.data,
      automatic: snapshot.automatic,
    })),
    deleted_volumes: core.store.deletedVolumes.map((deleted) => ({
      id: deleted.id,
      app: deleted.app,
      region: deleted.region,
      data: deleted.data,
      deleted_at: new Date(deleted.deletedAt).toISOString(),
      by: deleted.by,
      snapshot: deleted.snapshot &&
        {
          id: deleted.snapshot.id,
          data: deleted.snapshot.data,
          created_at: new Date(deleted.snapshot.createdAt).toISOString(),
        },
    })),
    networks: [...core.store.networks].map(([name, id]) => ({
      name,
      id,
      apps: [...core.store.apps.values()].filter((app) => app.network === name).map((app) => app.name),
    })),
    requests: core.stats.snapshot(),
    faults: core.faults.list(),
  };
}

/**
 * Whether machine `fromMachineId` can reach the private address `toPrivateIp`: both machines exist (not
 * destroyed) and their apps are on the same private network. Apps on their own networks never reach each
 * other; apps on the org's `default` network all do.
 */
export function reachable(core: EmulatorCore, fromMachineId: string, toPrivateIp: string): boolean {
  const live = [...core.store.apps.values()].flatMap((app) =>
    [...app.machines.values()].filter((m) => m.state !== "destroyed").map((machine) => ({ app, machine }))
  );
  const from = live.find(({ machine }) => machine.id === fromMachineId);
  const to = live.find(({ machine }) => machine.privateIp === toPrivateIp);
  return from !== undefined && to !== undefined && from.app.network === to.app.network;
}

/** The shape of {@link snapshot}. */
export type EmulatorSnapshot = ReturnType<typeof snapshot>;

/** Sets a machine's state at once, as if something outside the API (a crash, a host) changed it. */
export function forceMachineState(
  core: EmulatorCore,
  appName: string,
  machineId: string,
  state: ForcedMachineState,
) {
  const app = core.store.apps.get(appName);
  const machine = app?.machines.get(machineId);
  if (!app || !machine) throw new FlyHttpError(404, "not_found: machine not found");
  core.lifecycle.cancel(machine);
  machine.launching = false;
  core.lifecycle.setState(app, machine, state);
}

/** Forgets apps, images pushed, counts, faults, rate-limit history and org listing knobs. */
export function resetEmulator(core: EmulatorCore): void {
  core.orgListing = defaultOrgListingBehaviour();
  core.store.clear();
  core.images.reset();
  core.stats.clear();
  core.faults.clear();
  core.rateLimiter.reset();
}

/** Registers the control routes. */
export function registerControlRoutes(app: Hono<EmulatorEnv>, core: EmulatorCore): void {
  app.get("/_emulator/state", (c) => c.json(snapshot(core)));
  app.get("/_emulator/requests", (c) => c.json(core.stats.snapshot()));
  app.get(
    "/_emulator/reachable",
    (c) => c.json({ reachable: reachable(core, c.req.query("from") ?? "", c.req.query("to") ?? "") }),
  );
  app.post("/_emulator/reset", (c) => {
    resetEmulator(core);
    return c.json({ ok: true });
  });
  app.get("/_emulator/faults", (c) => c.json(core.faults.list()));
  app.post(
    "/_emulator/faults",
    async (c) => c.json({ id: core.faults.add(await readBody(c, FaultRuleBody)) }, 201),
  );
  app.delete("/_emulator/faults", (c) => {
    core.faults.clear();
    return c.json({ ok: true });
  });
  app.delete("/_emulator/faults/:id", (c) => c.json({ ok: core.faults.remove(c.req.param("id")) }));
  app.put("/_emulator/reserved-names", async (c) => {
    const { names } = await readBody(c, z.object({ names: z.array(z.string()) }));
    core.store.reservedNames.clear();
    for (const name of names) core.store.reservedNames.add(name);
    return c.json({ ok: true });
  });
  app.post("/_emulator/apps/:app_name/machines/:machine_id/state", async (c) => {
    const { state } = await readBody(
      c,
      z.object({ state: z.enum(["started", "stopped", "suspended", "failed"]) }),
    );
    forceMachineState(core, c.req.param("app_name"), c.req.param("machine_id"), state);
    return c.json({ ok: true });
  });
  app.get("/_emulator/org-machines", (c) => c.json(orgListingView(core)));
  app.put("/_emulator/org-machines", async (c) => {
    const body = await readBody(c, OrgListingBody);
    const behaviour = core.orgListing;
    behaviour.maxPageSize = body.max_page_size ?? behaviour.maxPageSize;
    behaviour.emptyPages = body.empty_pages ?? behaviour.emptyPages;
    behaviour.errorRegions = body.error_regions ?? behaviour.errorRegions;
    behaviour.deletedRetentionMs = body.deleted_retention_ms ?? behaviour.deletedRetentionMs;
    return c.json(orgListingView(core));
  });
}
