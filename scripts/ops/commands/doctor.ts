/**
 * `doctor`: checks the whole chain and says exactly what is wrong. From here: the variables, that every
 * function answers and accepts the secret. From the admin function: both Vault secrets, the pg_cron job and
 * its last run, pg_net's answers and queue, the Fly token for the org, the image. Exit 0 only when all pass.
 *
 * @module
 */
import type { Command } from "commander";
import { CliError, OperationError, UnreachableError } from "../errors.ts";
import { table } from "../output.ts";
import { parseResponse } from "hono/client";
import { ADMIN } from "../client.ts";
import { admin, type CommandContext, print, withJson } from "../context.ts";

/** One check's verdict (null: skipped). */
interface Check {
  name: string;
  ok: boolean | null;
  detail: string;
}

/** A user id no one has: the per-user functions answer it with their own 404, which proves auth passed. */
const NOBODY = "00000000-0000-4000-8000-000000000000";

/** Calls that prove each function answers and accepts the secret. */
const PROBES = [
  { fn: "provision-user-fly-app", query: { user_id: NOBODY }, notFoundIsOk: true },
  { fn: "deprovision-user-fly-app", query: { user_id: NOBODY }, notFoundIsOk: true },
  { fn: "check-fly-apps-health", query: {}, notFoundIsOk: false },
  { fn: ADMIN, path: "/summary", query: {}, notFoundIsOk: false },
];

/** Registers `doctor`. */
export function registerDoctorCommand(program: Command, ctx: CommandContext): void {
  withJson(program.command("doctor").description("check the whole chain and say exactly what is wrong"))
    .action(async (options) => {
      const api = ctx.api();
      const checks: Check[] = [];
      let unreachable: CliError | undefined;
      for (const probe of PROBES) {
        try {
          await api.call({ fn: probe.fn, path: probe.path, query: probe.query });
          checks.push({ name: `function ${probe.fn}`, ok: true, detail: "answers and accepts the secret" });
        } catch (error) {
          if (probe.notFoundIsOk && error instanceof OperationError && error.status === 404) {
            checks.push({ name: `function ${probe.fn}`, ok: true, detail: "answers and accepts the secret" });
            continue;
          }
          if (error instanceof UnreachableError) unreachable ??= error;
          checks.push({ name: `function ${probe.fn}`, ok: false, detail: (error as Error).message });
        }
      }
      const adminReachable = checks.at(-1)?.ok === true;
      if (adminReachable) {
        const report = await parseResponse(admin(ctx).doctor.$get());
        checks.push(...report.checks);
      } else {
        checks.push({
          name: "database, Vault, pg_cron, pg_net, Fly",
          ok: false,
          detail: "not checked: the admin function did not answer",
        });
      }
      const failed = checks.filter((check) => check.ok === false);
      print(ctx, options, { ok: failed.length === 0, checks }, (r) =>
        table(r.checks, [
          { header: "check", value: (c) => c.name },
          { header: "", value: (c) => c.ok === null ? "skip" : c.ok ? "ok" : "FAIL" },
          { header: "detail", value: (c) => c.detail },
        ], { layout: ctx.layout() }) +
        `\n${failed.length === 0 ? "all checks passed" : `${failed.length} check(s) failed`}`);
      if (unreachable) throw unreachable;
      if (failed.length > 0) {
        throw new OperationError(`doctor: ${failed.map((c) => c.name).join(", ")} failed`, 0, checks);
      }
    });
}
