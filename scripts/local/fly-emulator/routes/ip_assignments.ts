/** `/v1/apps/{app}/ip_assignments`: list, assign, remove. */
import { z } from "zod";
import type { EmulatorCore } from "../core.ts";
import { notFound } from "../http_error.ts";
import { randomHex } from "../ids.ts";
import type { Operation } from "../operation.ts";
import { findApp, readBody } from "../request.ts";
import type { AppRecord, IpRecord } from "../records.ts";

const AssignBody = z.looseObject({
  type: z.enum(["v4", "v6", "shared_v4", "private_v6", "egress_v4", "egress_v6", "egress_pair"]),
  region: z.string().optional(),
  org_slug: z.string().optional(),
  network: z.string().optional(),
  service_name: z.string().optional(),
});

const SHARED_V4 = "66.241.124.17";

function randomV4(): string {
  return `137.66.${parseInt(randomHex(2), 16)}.${parseInt(randomHex(2), 16)}`;
}

function randomV6(prefix: string): string {
  return `${prefix}:${randomHex(4)}:${randomHex(4)}`;
}

function assign(app: AppRecord, body: z.infer<typeof AssignBody>): IpRecord {
  const base = {
    region: body.region ?? "global",
    created_at: new Date().toISOString(),
    ...(body.service_name ? { service_name: body.service_name } : {}),
  };
  switch (body.type) {
    case "shared_v4":
      return { ...base, ip: SHARED_V4, shared: true, egress: false };
    case "v4":
      return { ...base, ip: randomV4(), shared: false, egress: false };
    case "v6":
      return { ...base, ip: randomV6("2a09:8280:1::1"), shared: false, egress: false };
    case "private_v6":
      return {
        ...base,
        ip: randomV6("fdaa:0:1:a7b:0"),
        shared: false,
        egress: false,
        network: { name: body.network ?? "", org_slug: app.orgSlug },
      };
    case "egress_v4":
      return { ...base, ip: randomV4(), shared: false, egress: true };
    case "egress_v6":
      return { ...base, ip: randomV6("2a09:8280:1::2"), shared: false, egress: true };
    case "egress_pair":
      return {
        ...base,
        shared: false,
        egress: true,
        ip_pair: { v4: randomV4(), v6: randomV6("2a09:8280:1::2") },
      };
  }
}

/** The IP assignment operations. */
export function ipAssignmentOperations(core: EmulatorCore): Operation[] {
  return [
    {
      id: "App_IPAssignments_list",
      method: "GET",
      path: "/v1/apps/:app_name/ip_assignments",
      handle: (c) => c.json({ ips: findApp(core, c).ips }),
    },
    {
      id: "App_IPAssignments_create",
      method: "POST",
      path: "/v1/apps/:app_name/ip_assignments",
      handle: async (c) => {
        const app = findApp(core, c);
        const body = await readBody(c, AssignBody);
        // flyctl always sends the app's org slug; another org's slug cannot own this app's addresses.
        if (body.org_slug !== undefined && body.org_slug !== app.orgSlug) {
          throw notFound(`organization '${body.org_slug}'`);
        }
        const ip = assign(app, body);
        app.ips.push(ip);
        return c.json(ip);
      },
    },
    {
      id: "App_IPAssignments_delete",
      method: "DELETE",
      path: "/v1/apps/:app_name/ip_assignments/:ip",
      handle: (c) => {
        const app = findApp(core, c);
        const index = app.ips.findIndex((ip) => ip.ip === c.req.param("ip"));
        if (index < 0) throw notFound("ip assignment");
        app.ips.splice(index, 1);
        return c.body(null, 204);
      },
    },
  ];
}
