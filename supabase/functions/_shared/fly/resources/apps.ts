import {
  type App,
  AppSchema,
  type CreateAppRequest,
  type CreateAppResponse,
  CreateAppResponseSchema,
  ListAppsResponseSchema,
} from "../schemas/apps.ts";
import type { FlyTransport } from "../transport.ts";
import { apiPath, type CallOptions } from "./paths.ts";

/** Options of {@link AppsResource.delete}. */
export interface DeleteAppOptions extends CallOptions {
  /** Stop all machines and delete at once (`?force=true`). */
  readonly force?: boolean;
}

/** Apps: create, get, list by org, delete. App names are global across all of Fly. */
export class AppsResource {
  readonly #transport: FlyTransport;

  /** Creates the resource on a transport. */
  constructor(transport: FlyTransport) {
    this.#transport = transport;
  }

  /**
   * Creates an app (201 `{id, created_at}`). Throws {@link FlyNameTakenError} when the name is used anywhere
   * on Fly: then `get` tells whether it is ours (200) or another org's (403). Retried after an ambiguous
   * failure only when `idempotency_key` is set; apps are eventually consistent, so a `get` right after may 404.
   */
  create(request: CreateAppRequest, options: CallOptions = {}): Promise<CreateAppResponse> {
    return this.#transport.send({
      operation: "Apps_create",
      method: "POST",
      path: apiPath("apps"),
      rateIdentifier: request.org_slug,
      idempotent: request.idempotency_key !== undefined,
      body: request,
      schema: CreateAppResponseSchema,
      signal: options.signal,
    });
  }

  /** Gets an app: 404 ({@link FlyNotFoundError}) when free, 403 ({@link FlyForbiddenError}) when another org's. */
  get(appName: string, options: CallOptions = {}): Promise<App> {
    return this.#transport.send({
      operation: "Apps_show",
      method: "GET",
      path: apiPath("apps", appName),
      rateIdentifier: appName,
      idempotent: true,
      schema: AppSchema,
      signal: options.signal,
    });
  }

  /** Lists every app of an organization, following `next_cursor` pages. */
  async list(orgSlug: string, options: CallOptions & { readonly pageSize?: number } = {}): Promise<App[]> {
    const apps: App[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#transport.send({
        operation: "Apps_list",
        method: "GET",
        path: apiPath("apps"),
        rateIdentifier: orgSlug,
        idempotent: true,
        query: { org_slug: orgSlug, limit: options.pageSize, cursor },
        schema: ListAppsResponseSchema,
        signal: options.signal,
      });
      apps.push(...page.apps);
      cursor = page.next_cursor || undefined;
    } while (cursor !== undefined);
    return apps;
  }

  /** Deletes an app and, with it, its machines, volumes and IPs (202). 404 means it is already gone. */
  async delete(appName: string, options: DeleteAppOptions = {}): Promise<void> {
    await this.#transport.send({
      operation: "Apps_delete",
      method: "DELETE",
      path: apiPath("apps", appName),
      rateIdentifier: appName,
      idempotent: true,
      query: { force: options.force ? true : undefined },
      signal: options.signal,
    });
  }
}
