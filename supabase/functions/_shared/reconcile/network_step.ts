/**
 * Step 2: public addresses. Apps made through the Machines API have no IPs; an app whose plan exposes
 * services publicly gets a shared IPv4 and a dedicated IPv6, as flyctl's first deploy does. An app that has
 * any address already is left as it is.
 *
 * @module
 */
import type { IpAssignmentType } from "../fly/mod.ts";
import type { ReconcileContext } from "./context.ts";

/** The addresses a public user app gets. */
const PUBLIC_IP_TYPES: IpAssignmentType[] = ["shared_v4", "v6"];

/** Assigns the public IPs when the plan wants them and the app has none. */
export async function ensurePublicIps(
  ctx: ReconcileContext,
  appName: string,
  wantPublic: boolean,
): Promise<void> {
  if (!wantPublic) return;
  const existing = await ctx.fly.ipAssignments.list(appName);
  if (existing.length > 0) return;
  for (const type of PUBLIC_IP_TYPES) {
    const assigned = await ctx.fly.ipAssignments.assign(appName, { type });
    ctx.events.push({
      event_type: "ip_assigned",
      status: "ok",
      metadata: { app_name: appName, type, ip: assigned.ip },
    });
  }
}
