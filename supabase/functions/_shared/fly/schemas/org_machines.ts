/**
 * Schemas of `GET /v1/orgs/{org_slug}/machines` (`Machines_org_list`): `OrgMachinesResponse` and `OrgMachine`.
 * Every object keeps unknown fields, so an API that adds fields does not break the sweep.
 */
import { z } from "zod";
import { CheckStatusSchema, MachineGuestSchema, type MachineState } from "./machines.ts";

/** `MachineOverviewConfig`: the part of a machine's config the org listing carries (absent in summary mode). */
export const MachineOverviewConfigSchema = z.looseObject({
  image: z.string().optional(),
  guest: MachineGuestSchema.optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});

/** The config summary of a listed machine. */
export type MachineOverviewConfig = z.infer<typeof MachineOverviewConfigSchema>;

/**
 * `OrgMachine`, one machine of the org listing. The spec declares `id`, `name`, `app_name`, `state`, `region`,
 * `private_ip`, `created_at`, `updated_at`, `version` (older specs also the deprecated `instance_id`) and
 * `config`; `checks` and `image_ref` are not in the spec and are parsed only in case the API sends them.
 * `version` falls back to `instance_id`.
 */
export const OrgMachineSchema = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  app_name: z.string(),
  state: z.string(),
  region: z.string(),
  private_ip: z.string().optional(),
  created_at: z.string().optional(),
  updated_at: z.string(),
  version: z.string().optional(),
  instance_id: z.string().optional(),
  config: MachineOverviewConfigSchema.optional(),
  checks: z.array(CheckStatusSchema).optional(),
  image_ref: z.looseObject({
    registry: z.string().optional(),
    repository: z.string().optional(),
    tag: z.string().optional(),
    digest: z.string().optional(),
  }).optional(),
}).transform((machine) => ({
  ...machine,
  version: machine.version ?? machine.instance_id,
  state: machine.state as MachineState,
}));

/** A machine as the org listing reports it. */
export type OrgMachine = z.infer<typeof OrgMachineSchema>;

/** `OrgMachinesResponse`: one page of the org listing. */
export const OrgMachinesResponseSchema = z.looseObject({
  machines: z.array(OrgMachineSchema).nullish().transform((machines) => machines ?? []),
  next_cursor: z.string().optional(),
  error_regions: z.array(z.string()).nullish().transform((regions) => regions ?? []),
  last_machine_id: z.string().optional(),
  last_updated_at: z.string().optional(),
});
