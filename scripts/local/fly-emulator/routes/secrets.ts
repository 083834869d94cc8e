/** `/v1/apps/{app}/secrets`: list, set one, bulk set/unset, delete; every write bumps the secrets version. */
import { z } from "zod";
import type { EmulatorCore } from "../core.ts";
import { invalidArgument, notFound } from "../http_error.ts";
import type { Operation } from "../operation.ts";
import { findApp, pathParam, queryFlag, readBody } from "../request.ts";
import type { AppRecord, SecretRecord } from "../records.ts";
import { digestOf } from "../views.ts";

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function secretView(name: string, secret: SecretRecord, showValue: boolean): Record<string, unknown> {
  return {
    name,
    digest: secret.digest,
    created_at: secret.createdAt,
    updated_at: secret.updatedAt,
    ...(showValue ? { value: secret.value } : {}),
  };
}

function checkedName(name: string): string {
  if (!SECRET_NAME.test(name)) throw invalidArgument(`invalid secret name '${name}'`);
  return name;
}

function writeSecret(app: AppRecord, name: string, value: string): SecretRecord {
  const now = new Date().toISOString();
  const secret = {
    value,
    digest: digestOf(value).slice(0, 16),
    createdAt: app.secrets.get(name)?.createdAt ?? now,
    updatedAt: now,
  };
  app.secrets.set(name, secret);
  return secret;
}

/** Bumps the app's secrets version; it becomes usable as `min_secrets_version` after the propagation delay. */
function bumpVersion(core: EmulatorCore, app: AppRecord): number {
  const version = ++app.secretsVersion;
  const publish = () => {
    app.secretsAvailableVersion = Math.max(app.secretsAvailableVersion, version);
  };
  if (core.config.latency.secretsPropagationMs > 0) {
    core.lifecycle.later(core.config.latency.secretsPropagationMs, publish);
  } else publish();
  return version;
}

/** The secrets operations. */
export function secretOperations(core: EmulatorCore): Operation[] {
  return [
    {
      id: "Secrets_list",
      method: "GET",
      path: "/v1/apps/:app_name/secrets",
      handle: (c) => {
        const app = findApp(core, c);
        const show = queryFlag(c, "show_secrets");
        return c.json({ secrets: [...app.secrets].map(([name, secret]) => secretView(name, secret, show)) });
      },
    },
    {
      id: "Secret_get",
      method: "GET",
      path: "/v1/apps/:app_name/secrets/:secret_name",
      handle: (c) => {
        const name = pathParam(c, "secret_name");
        const secret = findApp(core, c).secrets.get(name);
        if (!secret) throw notFound("secret");
        return c.json(secretView(name, secret, queryFlag(c, "show_secrets")));
      },
    },
    {
      id: "Secret_create",
      method: "POST",
      path: "/v1/apps/:app_name/secrets/:secret_name",
      handle: async (c) => {
        const app = findApp(core, c);
        const name = checkedName(pathParam(c, "secret_name"));
        const { value } = await readBody(c, z.looseObject({ value: z.string() }));
        const secret = writeSecret(app, name, value);
        const version = bumpVersion(core, app);
        return c.json({ ...secretView(name, secret, false), version, Version: version }, 201);
      },
    },
    {
      id: "Secrets_update",
      method: "POST",
      path: "/v1/apps/:app_name/secrets",
      handle: async (c) => {
        const app = findApp(core, c);
        const { values } = await readBody(
          c,
          z.looseObject({ values: z.record(z.string(), z.string().nullable()) }),
        );
        for (const [name, value] of Object.entries(values)) {
          checkedName(name);
          if (value === null) app.secrets.delete(name);
          else writeSecret(app, name, value);
        }
        const version = bumpVersion(core, app);
        const secrets = [...app.secrets].map(([name, secret]) => secretView(name, secret, false));
        return c.json({ secrets, version, Version: version });
      },
    },
    {
      id: "Secret_delete",
      method: "DELETE",
      path: "/v1/apps/:app_name/secrets/:secret_name",
      handle: (c) => {
        const app = findApp(core, c);
        if (!app.secrets.delete(pathParam(c, "secret_name"))) throw notFound("secret");
        const version = bumpVersion(core, app);
        return c.json({ version, Version: version });
      },
    },
  ];
}
