import { z } from "zod";

/** IP address kinds accepted by `POST /v1/apps/{app}/ip_assignments`. */
export const IpAssignmentTypeSchema = z.enum([
  "v4",
  "v6",
  "shared_v4",
  "private_v6",
  "egress_v4",
  "egress_v6",
  "egress_pair",
]);

/** An IP address kind. */
export type IpAssignmentType = z.infer<typeof IpAssignmentTypeSchema>;

/** One `IPAssignment` (also the shape of `AssignIPResponse`; `ip` is absent for an `egress_pair`). */
export const IpAssignmentSchema = z.looseObject({
  ip: z.string().optional(),
  region: z.string().optional(),
  shared: z.boolean().optional(),
  egress: z.boolean().optional(),
  service_name: z.string().optional(),
  created_at: z.string().optional(),
  ip_pair: z.looseObject({ v4: z.string().optional(), v6: z.string().optional() }).optional(),
});

/** An IP address assigned to an app. */
export type IpAssignment = z.infer<typeof IpAssignmentSchema>;

/** `200` body of `GET /v1/apps/{app}/ip_assignments`. */
export const ListIpAssignmentsResponseSchema = z.looseObject({ ips: z.array(IpAssignmentSchema) });

/** `assignIPRequest`, the body of `POST /v1/apps/{app}/ip_assignments`. */
export interface AssignIpRequest {
  /** Kind of address. */
  type: IpAssignmentType;
  /** Region, for regional addresses. */
  region?: string;
  /** Slug of the app's organization; flyctl (fly-go `AssignIPRequest.OrgSlug`) always sends it, so do we. */
  org_slug: string;
  /** 6PN network, for `private_v6` (does not default to the app's network). */
  network?: string;
  /** Service the address routes to. */
  service_name?: string;
}
