/** `/v1/apps`: create, show, list by org, delete (cascading to machines and volumes). */
import { z } from "zod";
import type { EmulatorCore } from "../core.ts";
import { FlyHttpError, invalidArgument } from "../http_error.ts";
import { newAppId } from "../ids.ts";
import type { Operation } from "../operation.ts";
import { findApp, readBody } from "../request.ts";
import type { AppRecord } from "../records.ts";
import { recordVolumeDeletion } from "../snapshots.ts";
import { appView } from "../views.ts";

const APP_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const CreateAppBody = z.looseObject({
  name: z.string().optional(),
  app_name: z.string().optional(),
  org_slug: z.string().optional(),
  network: z.string().optional(),
  idempotency_key: z.string().optional(),
  enable_subdomains: z.boolean().optional(),
});

function createApp(core: EmulatorCore, body: z.infer<typeof CreateAppBody>): AppRecord {
  const name = body.name ?? body.app_name;
  if (body.idempotency_key !== undefined) {
    const earlier = core.store.appByIdempotencyKey(body.idempotency_key);
    if (earlier && (name === undefined || name === earlier.name)) return earlier;
    if (earlier) throw invalidArgument("idempotency_key was already used to create an app with another name");
  }
  if (!body.org_slug) throw invalidArgument("org_slug is required");
  if (body.org_slug !== core.config.orgSlug) throw new FlyHttpError(404, "organization not found");
  if (!name || !APP_NAME.test(name)) throw new FlyHttpError(422, "Validation failed: Name is invalid");
  if (core.store.apps.has(name) || core.store.reservedNames.has(name)) {
    throw new FlyHttpError(422, "Validation failed: Name has already been taken", "name_taken");
  }
  const app: AppRecord = {
    id: newAppId(),
    name,
    orgSlug: body.org_slug,
    network: body.network ?? "default",
    internalNumericId: core.store.nextNumericId(),
    createdAt: Date.now(),
    visibleFrom: performance.now() + core.config.latency.appPropagationMs,
    status: "pending",
    idempotencyKey: body.idempotency_key,
    secrets: new Map(),
    secretsVersion: 0,
    secretsAvailableVersion: 0,
    ips: [],
    machines: new Map(),
    volumes: new Map(),
  };
  core.store.apps.set(name, app);
  return app;
}

/** The app operations. */
export function appOperations(core: EmulatorCore): Operation[] {
  return [
    {
      id: "Apps_list",
      method: "GET",
      path: "/v1/apps",
      handle: (c) => {
        const orgSlug = c.req.query("org_slug");
        if (!orgSlug) throw invalidArgument("org_slug is required");
        const limitText = c.req.query("limit");
        const limit = limitText === undefined ? Infinity : Number(limitText);
        if (!(Number.isInteger(limit) && limit >= 1 && limit <= 5000) && limit !== Infinity) {
          throw invalidArgument("limit must be between 1 and 5000");
        }
        const all = orgSlug === core.config.orgSlug
          ? [...core.store.apps.values()].sort((a, b) => a.name.localeCompare(b.name))
          : [];
        const cursor = c.req.query("cursor");
        const start = cursor ? all.findIndex((app) => app.name > atob(cursor)) : 0;
        const page = start < 0 ? [] : all.slice(start, start + limit);
        const more = start >= 0 && start + page.length < all.length;
        return c.json({
          apps: page.map(appView),
          total_apps: all.length,
          ...(more ? { next_cursor: btoa(page[page.length - 1].name) } : {}),
        });
      },
    },
    {
      id: "Apps_create",
      method: "POST",
      path: "/v1/apps",
      handle: async (c) => {
        const app = createApp(core, await readBody(c, CreateAppBody));
        return c.json({ id: app.id, created_at: app.createdAt }, 201);
      },
    },
    {
      id: "Apps_show",
      method: "GET",
      path: "/v1/apps/:app_name",
      handle: (c) => c.json(appView(findApp(core, c))),
    },
    {
      id: "Apps_delete",
      method: "DELETE",
      path: "/v1/apps/:app_name",
      handle: (c) => {
        const app = findApp(core, c);
        for (const machine of app.machines.values()) {
          core.lifecycle.cancel(machine);
          core.lifecycle.setState(app, machine, "destroyed");
        }
        for (const volume of app.volumes.values()) {
          recordVolumeDeletion(core.store, { app, volume, by: "app_delete" });
        }
        core.store.apps.delete(app.name);
        return c.body(null, 202);
      },
    },
  ];
}
