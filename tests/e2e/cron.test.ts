/**
 * End to end: the pg_cron job's own command, run the way pg_cron runs it (its SQL, in its database, as its
 * user), reaches the health-check function through pg_net, the Vault settings and the gateway, which answers
 * 202 at once and then finishes a sweep in the background. Uses the main test database, where pg_cron lives;
 * the Vault settings the stack writes there are put back afterwards.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { connect, localDatabaseUrl } from "../_support/database.ts";
import { waitFor } from "../_support/wait.ts";
import { startStack } from "./_support.ts";

const VAULT_NAMES = ["project_url", "fly_kick_secret"];

Deno.test("the check-fly-apps-health cron command, run as pg_cron would, reaches the function", async () => {
  const admin = connect(localDatabaseUrl(), 1);
  const savedVault = await admin<{ name: string; decrypted_secret: string }[]>`
    select name, decrypted_secret from vault.decrypted_secrets where name = any(${VAULT_NAMES})`;
  try {
    const stack = await startStack({ databaseUrl: localDatabaseUrl() });
    try {
      const [job] = await admin<{ command: string; schedule: string; database: string; username: string }[]>`
        select command, schedule, database, username, active from cron.job
        where jobname = 'check-fly-apps-health'`;
      assert(job, "the cron job is scheduled");
      assertEquals(job.schedule, "* * * * *");
      const [session] = await admin`select current_database() as database, current_user as username`;
      assertEquals(
        [job.database, job.username],
        [session.database, session.username],
        "run where pg_cron would",
      );
      assert(!job.command.includes(stack.services.kickSecret), "no secret in the job's command");
      assert(!job.command.includes(stack.services.gatewayUrl), "no URL in the job's command");

      await stack.warmFunction("check-fly-apps-health");
      const [result] = await admin.unsafe(job.command);
      const requestId = Number(Object.values(result)[0]);
      assert(
        Number.isInteger(requestId) && requestId > 0,
        `the command queued a request: ${JSON.stringify(result)}`,
      );

      // pg_net's worker sends it; the function answers 202 at once ...
      const response = await waitFor("the function's answer in net._http_response", async () => {
        const [row] = await admin<
          { status_code: number | null; content: string | null; error_msg: string }[]
        >`
          select status_code, content, error_msg from net._http_response where id = ${requestId}`;
        return row;
      });
      assertEquals(response.status_code, 202, JSON.stringify(response));
      const accepted = JSON.parse(response.content ?? "{}");
      assertEquals(accepted.accepted, true);

      // ... having been called with the Vault secret by the gateway, and then runs the sweep to its end.
      const logged = (msg: string) =>
        stack.logs.map((line) => {
          try {
            return JSON.parse(line);
          } catch {
            return undefined;
          }
        }).find((entry) => entry?.msg === msg && entry.request_id === accepted.request_id);
      const request = await waitFor("the gateway's request log line", () => logged("request"));
      assertEquals(
        [request?.function, request?.method, request?.path, request?.status],
        ["check-fly-apps-health", "POST", "/check-fly-apps-health", 202],
      );
      const finished = await waitFor("the background sweep to finish", () => logged("sweep finished"));
      assert(
        finished.report && typeof finished.report.observed?.checked === "number",
        JSON.stringify(finished),
      );
    } finally {
      await stack.stop();
    }
  } finally {
    await admin.begin(async (tx) => {
      await tx`delete from vault.secrets where name = any(${VAULT_NAMES})`;
      for (const row of savedVault) {
        await tx`select vault.create_secret(${row.decrypted_secret}, ${row.name})`;
      }
    });
    await admin.end({ timeout: 2 });
  }
});
