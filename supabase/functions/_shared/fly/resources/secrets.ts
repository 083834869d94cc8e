import {
  type AppSecret,
  AppSecretsSchema,
  type AppSecretsUpdateResponse,
  AppSecretsUpdateResponseSchema,
  type DeleteAppSecretResponse,
  DeleteAppSecretResponseSchema,
  type SetAppSecretResponse,
  SetAppSecretResponseSchema,
} from "../schemas/secrets.ts";
import type { FlyTransport } from "../transport.ts";
import { apiPath, type CallOptions } from "./paths.ts";

/** Options of {@link SecretsResource.list}. */
export interface ListSecretsOptions extends CallOptions {
  /** Only answer once the app's secrets are at least this version. */
  readonly minVersion?: number;
  /** Include the values (avoid: they would travel and could end up in memory dumps). */
  readonly showSecrets?: boolean;
}

/**
 * App secrets (the Machines API secrets store). Every write returns the app's new secrets version; pass it as
 * `min_secrets_version` on machine create/update, since machines only see secrets at boot of a new version.
 */
export class SecretsResource {
  readonly #transport: FlyTransport;

  /** Creates the resource on a transport. */
  constructor(transport: FlyTransport) {
    this.#transport = transport;
  }

  /** Lists names and digests (values only with `showSecrets`). */
  async list(appName: string, options: ListSecretsOptions = {}): Promise<AppSecret[]> {
    const response = await this.#transport.send({
      operation: "Secrets_list",
      method: "GET",
      path: apiPath("apps", appName, "secrets"),
      rateIdentifier: appName,
      idempotent: true,
      query: { min_version: options.minVersion, show_secrets: options.showSecrets },
      schema: AppSecretsSchema,
      signal: options.signal,
    });
    return response.secrets;
  }

  /** Sets one secret (201) and returns it with the app's new secrets version. */
  set(
    appName: string,
    name: string,
    value: string,
    options: CallOptions = {},
  ): Promise<SetAppSecretResponse> {
    return this.#transport.send({
      operation: "Secret_create",
      method: "POST",
      path: apiPath("apps", appName, "secrets", name),
      rateIdentifier: appName,
      idempotent: true,
      body: { value },
      schema: SetAppSecretResponseSchema,
      signal: options.signal,
    });
  }

  /** Sets (string) and unsets (null) many secrets in one version. */
  update(
    appName: string,
    values: Readonly<Record<string, string | null>>,
    options: CallOptions = {},
  ): Promise<AppSecretsUpdateResponse> {
    return this.#transport.send({
      operation: "Secrets_update",
      method: "POST",
      path: apiPath("apps", appName, "secrets"),
      rateIdentifier: appName,
      idempotent: true,
      body: { values },
      schema: AppSecretsUpdateResponseSchema,
      signal: options.signal,
    });
  }

  /** Deletes one secret and returns the app's new secrets version. */
  delete(appName: string, name: string, options: CallOptions = {}): Promise<DeleteAppSecretResponse> {
    return this.#transport.send({
      operation: "Secret_delete",
      method: "DELETE",
      path: apiPath("apps", appName, "secrets", name),
      rateIdentifier: appName,
      idempotent: true,
      schema: DeleteAppSecretResponseSchema,
      signal: options.signal,
    });
  }
}
