import { z } from "zod";

/** One `AppSecret`; `value` only appears when asked for with `show_secrets`. */
export const AppSecretSchema = z.looseObject({
  name: z.string(),
  digest: z.string().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  value: z.string().optional(),
});

/** An app secret (name and digest; the value only on request). */
export type AppSecret = z.infer<typeof AppSecretSchema>;

/** `200` body of `GET /v1/apps/{app}/secrets`. */
export const AppSecretsSchema = z.looseObject({ secrets: z.array(AppSecretSchema) });

/** `201` body of `POST /v1/apps/{app}/secrets/{name}`: the secret and the app's new secrets version. */
export const SetAppSecretResponseSchema = AppSecretSchema.extend({ version: z.number().int() });

/** Result of setting one secret. */
export type SetAppSecretResponse = z.infer<typeof SetAppSecretResponseSchema>;

/** `200` body of `POST /v1/apps/{app}/secrets` (bulk set/unset). */
export const AppSecretsUpdateResponseSchema = z.looseObject({
  secrets: z.array(AppSecretSchema).optional(),
  version: z.number().int(),
});

/** Result of a bulk secrets update. */
export type AppSecretsUpdateResponse = z.infer<typeof AppSecretsUpdateResponseSchema>;

/** `200` body of `DELETE /v1/apps/{app}/secrets/{name}`. */
export const DeleteAppSecretResponseSchema = z.looseObject({ version: z.number().int() });

/** Result of deleting one secret. */
export type DeleteAppSecretResponse = z.infer<typeof DeleteAppSecretResponseSchema>;
