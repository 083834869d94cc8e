import { z } from "zod";

const LeaseDataSchema = z.looseObject({
  nonce: z.string().optional(),
  expires_at: z.number(),
  owner: z.string().optional(),
  description: z.string().optional(),
  version: z.string().optional(),
});

/**
 * A machine lease. The real API wraps it in `{status: "success", data: {...}}` although the spec documents the
 * bare object; both shapes are accepted and the bare lease is returned.
 */
export const LeaseSchema = z.union([
  z.looseObject({ status: z.literal("success"), data: LeaseDataSchema }).transform((envelope) =>
    envelope.data
  ),
  LeaseDataSchema,
]);

/** A lease: `nonce` (only for its holder), expiry as unix seconds, owner and description. */
export type Lease = z.infer<typeof LeaseSchema>;
