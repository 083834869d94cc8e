/**
 * Step 2: public addresses. Apps made through the Machines API have no IPs; an app whose plan exposes
 * services publicly gets a shared IPv4 and a dedicated IPv6, as flyctl's first deploy does. Each family is
 * checked on its own, so an attempt that failed between the two assignments is finished by the next one; an
 * address of a family already there (e.g. a dedicated IPv4 ops gave the app) is left as it is.
 *
 * @module
 */
import type { IpAssignment, IpAssignmentType } from "../fly/mod.ts";
import type { ReconcileContext } from "./context.ts";

/** A public (not egress, not 6PN private) address. */
function isPublic(ip: IpAssignment): boolean {
  return ip.egress !== true && !String(ip.ip ?? "").toLowerCase().startsWith("fdaa:");
}

/** The addresses a public user app gets, each with how to recognise an address of its family. */
const PUBLIC_ADDRESSES: { type: IpAssignmentType; present: (ip: IpAssignment) => boolean }[] = [
  { type: "shared_v4", present: (ip) => isPublic(ip) && String(ip.ip ?? "").includes(".") },
  { type: "v6", present: (ip) => isPublic(ip) && String(ip.ip ?? "").includes(":") },
];

/** Assigns the public IPs of each family the app lacks, when the plan wants them. */
export async function ensurePublicIps(
  ctx: ReconcileContext,
  appName: string,
  wantPublic: boolean,
): Promise<void> {
  if (!wantPublic) return;
  const existing = await ctx.fly.ipAssignments.list(appName);
  for (const { type, present } of PUBLIC_ADDRESSES) {
    if (existing.some(present)) continue;
    const assigned = await ctx.fly.ipAssignments.assign(appName, { type, org_slug: ctx.config.fly.orgSlug });
    ctx.events.push({
      event_type: "ip_assigned",
      status: "ok",
      metadata: { app_name: appName, type, ip: assigned.ip },
    });
  }
}
