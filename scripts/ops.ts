/**
 * Ops CLI over the three functions (the same calls as the README's curl examples).
 *
 *   FUNCTIONS_URL=https://<ref>.supabase.co/functions/v1 PROVISIONER_SECRET=... \
 *     deno task ops provision <user_id> [--async]
 *   deno task ops deprovision <user_id> [--async]
 *   deno task ops status <user_id>
 *   deno task ops sweep [--limit N] [--budget-ms N] [--async]
 *   deno task ops summary
 *
 * Prints the JSON answer; exits 1 on a non-2xx answer, 2 on a usage error.
 */
import { parseArgs } from "node:util";

const USAGE = `usage: deno task ops <provision|deprovision|status|sweep|summary> [user_id] [options]
  --async          answer at once (202) instead of waiting for the outcome
  --limit N        sweep: at most N rows reconciled and N apps observed
  --budget-ms N    sweep: time budget
env: FUNCTIONS_URL (…/functions/v1), PROVISIONER_SECRET`;

/** One HTTP call to a function. */
interface Call {
  method: "GET" | "POST";
  fn: string;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
}

/** Turns the command line into a call, or a usage error message. */
export function callFor(args: string[]): Call | string {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { async: { type: "boolean" }, limit: { type: "string" }, "budget-ms": { type: "string" } },
  });
  const [command, userId] = positionals;
  const wait: Record<string, string> = values.async ? {} : { wait: "true" };
  switch (command) {
    case "provision":
    case "deprovision":
      if (!userId) return `${command} needs a user_id`;
      return {
        method: "POST",
        fn: `${command}-user-fly-app`,
        query: wait,
        body: { user_id: userId, reason: "ops" },
      };
    case "status":
      if (!userId) return "status needs a user_id";
      return { method: "GET", fn: "provision-user-fly-app", query: { user_id: userId } };
    case "sweep": {
      const body: Record<string, number> = {};
      if (values.limit) body.limit = Number(values.limit);
      if (values["budget-ms"]) body.budget_ms = Number(values["budget-ms"]);
      return { method: "POST", fn: "check-fly-apps-health", query: wait, body };
    }
    case "summary":
      return { method: "GET", fn: "check-fly-apps-health" };
    default:
      return `unknown command ${command ?? "(none)"}`;
  }
}

async function main(): Promise<number> {
  let call;
  try {
    call = callFor(Deno.args);
  } catch (error) {
    call = (error as Error).message;
  }
  const base = Deno.env.get("FUNCTIONS_URL");
  const secret = Deno.env.get("PROVISIONER_SECRET");
  if (typeof call === "string" || !base || !secret) {
    console.error(typeof call === "string" ? `${call}\n${USAGE}` : USAGE);
    return 2;
  }
  const url = new URL(`${base.replace(/\/$/, "")}/${call.fn}`);
  for (const [key, value] of Object.entries(call.query ?? {})) url.searchParams.set(key, value);
  const response = await fetch(url, {
    method: call.method,
    headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
    body: call.body ? JSON.stringify(call.body) : undefined,
  });
  const text = await response.text();
  try {
    console.log(JSON.stringify(JSON.parse(text), null, 2));
  } catch {
    console.log(text);
  }
  if (!response.ok) console.error(`HTTP ${response.status}`);
  return response.ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
