/**
 * Step 3: the app's secrets. The configured values go through Fly's secrets API in one versioned update,
 * never into `config.env`. Only a digest is stored on the row; the update is skipped when the digest matches
 * and every configured name is present on the app. Returns the secrets version to pass to the machine as
 * `min_secrets_version`, and whether it changed (a running machine must then be updated to pick it up).
 *
 * @module
 */
import { appSecretsDigest, appSecretValues } from "./app_secrets.ts";
import type { ReconcileContext } from "./context.ts";

/** Outcome of {@link ensureSecrets}. */
export interface SecretsState {
  /** Version to require on machine create/update; null when the app has no secrets of ours. */
  version: number | null;
  /** True when this run set new values. */
  changed: boolean;
}

/** Makes the app's secrets match the configuration. */
export async function ensureSecrets(ctx: ReconcileContext, appName: string): Promise<SecretsState> {
  const values = appSecretValues(ctx.config.appSecrets);
  const names = Object.keys(values);
  if (names.length === 0) return { version: ctx.row.secrets_version, changed: false };
  const digest = await appSecretsDigest(values);
  const present = new Set((await ctx.fly.secrets.list(appName)).map((secret) => secret.name));
  const upToDate = digest === ctx.row.secrets_digest && ctx.row.secrets_version !== null &&
    names.every((name) => present.has(name));
  if (upToDate) return { version: ctx.row.secrets_version, changed: false };

  const { version } = await ctx.fly.secrets.update(appName, values);
  ctx.patch.secrets_version = version;
  ctx.patch.secrets_digest = digest;
  ctx.events.push({
    event_type: "secrets_set",
    status: "ok",
    metadata: { app_name: appName, names, version },
  });
  return { version, changed: true };
}
