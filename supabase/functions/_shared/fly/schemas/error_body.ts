import { z } from "zod";

/**
 * The `ErrorResponse` body of a failed call: `{error, status?}`. Parsed leniently because an error body may
 * be plain text from a proxy.
 */
export const FlyErrorBodySchema = z.looseObject({
  error: z.string().optional(),
  message: z.string().optional(),
  status: z.string().optional(),
});

/** A parsed error body. */
export type FlyErrorBody = z.infer<typeof FlyErrorBodySchema>;
