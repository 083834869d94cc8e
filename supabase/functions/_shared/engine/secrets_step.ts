/**
 * Step 3: the app's secrets. The configured values go through Fly's secrets API in one versioned update,
 * never into `config.env`, together with the app's scoped user credential when one is configured and due
 * (see `credential_step.ts`). Only a digest of the configured values is stored on the row (the credential is
 * tracked by its expiry and key id instead, so a fresh token does not count as drift); the configured values
 * are set again only when the digest differs or a name is missing on the app. Returns the secrets version to
 * pass to the machine as `min_secrets_version`, and whether it changed (a running machine must then be
 * updated to pick it up).
 *
 * @module
 */
import { appSecretsDigest, appSecretValues } from "./app_secrets.ts";
import type { ReconcileContext } from "./context.ts";
import { ensureCredential } from "./credential_step.ts";

/** Outcome of {@link ensureSecrets}. */
export interface SecretsState {
  /** Version to require on machine create/update; null when the app has no secrets of ours. */
  version: number | null;
  /** True when this run set new values. */
  changed: boolean;
}

/** Makes the app's secrets match the configuration (and sets a new credential when one is due). */
export async function ensureSecrets(ctx: ReconcileContext, appName: string): Promise<SecretsState> {
  const values = appSecretValues(ctx.config.appSecrets);
  const names = Object.keys(values);
  const unchanged = { version: ctx.row.secrets_version, changed: false };
  if (names.length === 0 && !ctx.config.userJwt) return unchanged;
  const present = new Set((await ctx.fly.secrets.list(appName)).map((secret) => secret.name));
  const digest = names.length > 0 ? await appSecretsDigest(values) : null;
  const configuredUpToDate = names.length === 0 ||
    (digest === ctx.row.secrets_digest && ctx.row.secrets_version !== null &&
      names.every((name) => present.has(name)));
  const credential = await ensureCredential(ctx, { appName, presentSecretNames: present });
  const update = { ...(configuredUpToDate ? {} : values), ...credential.secrets };
  if (Object.keys(update).length === 0) return unchanged;

  const { version } = await ctx.fly.secrets.update(appName, update);
  ctx.patch.secrets_version = version;
  if (!configuredUpToDate) ctx.patch.secrets_digest = digest;
  if (credential.patch) Object.assign(ctx.patch, credential.patch);
  ctx.events.push({
    event_type: "secrets_set",
    status: "ok",
    metadata: { app_name: appName, names: Object.keys(update), version },
  });
  return { version, changed: true };
}
