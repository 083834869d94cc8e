import { z } from "zod";

/** The organization an app belongs to. */
export const AppOrganizationSchema = z.looseObject({
  slug: z.string(),
  name: z.string().optional(),
});

/** `App` as returned by `GET /v1/apps/{app_name}` and in app lists. */
export const AppSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  status: z.string().optional(),
  organization: AppOrganizationSchema.optional(),
  machine_count: z.number().int().optional(),
  network: z.string().optional(),
});

/** A Fly app. */
export type App = z.infer<typeof AppSchema>;

/** `201` body of `POST /v1/apps`: the new app's id and creation time (ms since epoch). */
export const CreateAppResponseSchema = z.looseObject({
  id: z.string(),
  created_at: z.number(),
});

/** Result of creating an app. */
export type CreateAppResponse = z.infer<typeof CreateAppResponseSchema>;

/** `200` body of `GET /v1/apps?org_slug=`. */
export const ListAppsResponseSchema = z.looseObject({
  apps: z.array(AppSchema),
  total_apps: z.number().int().optional(),
  next_cursor: z.string().optional(),
});

/** `CreateAppRequest`, the body of `POST /v1/apps`. */
export interface CreateAppRequest {
  /** Globally unique app name. */
  name: string;
  /** Organization slug (`personal` for the personal org). */
  org_slug: string;
  /** 6PN network name; omitted means the org's default network. */
  network?: string;
  /** Makes a retry of this exact create safe: the same key and name return the first app. */
  idempotency_key?: string;
  /** Whether to enable `*.fly.dev` subdomains for machines. */
  enable_subdomains?: boolean;
}
