/**
 * End to end: `ops doctor` on the main test database (where pg_cron lives). With the chain complete (the
 * functions answer and accept the secret, both Vault secrets, the cron job, a recent run whose request the
 * function answered 2xx, pg_net's queue drained, the Fly token valid) it exits 0; with the Vault secret
 * `fly_kick_secret` deleted it exits 1 naming it; restored, it passes again.
 *
 * pg_cron's scheduler is off in tests, so its run is played here as pg_cron plays it: the job active, its
 * own command run, the run recorded in cron.job_run_details (as the platform's superuser when
 * LOCAL_ADMIN_DB_URL names one: pg_cron writes that table, the project role may not). The Vault settings of
 * the main database are put back afterwards through vault.create_secret, as the project role may.
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { connect, localDatabaseUrl } from "../_support/database.ts";
import { waitFor } from "../_support/wait.ts";
import { startStack } from "./_support.ts";
import { ops } from "./admin_cli_support.ts";

const VAULT_NAMES = ["project_url", "fly_kick_secret", "fly_provisioner_secret"];

Deno.test("ops doctor: passes on a complete chain, fails naming a deleted Vault secret, passes once restored", async () => {
  const admin = connect(localDatabaseUrl(), 1);
  const platform = connect(Deno.env.get("LOCAL_ADMIN_DB_URL") ?? localDatabaseUrl(), 1);
  const savedVault = await admin<{ name: string; decrypted_secret: string }[]>`
    select name, decrypted_secret from vault.decrypted_secrets where name = any(${VAULT_NAMES})`;
  let runId: number | undefined;
  let reactivated: number | undefined;
  try {
    const stack = await startStack({ databaseUrl: localDatabaseUrl() });
    try {
      const [job] = await admin<{ jobid: number; command: string; database: string; username: string }[]>`
        select jobid, command, database, username from cron.job where jobname = 'check-fly-apps-health'`;
      assert(job, "the cron job is scheduled");
      // A test cluster may switch its jobs off so that pg_cron's launcher leaves them to the tests.
      const [{ active }] = await platform<
        { active: boolean }[]
      >`select active from cron.job where jobid = ${job.jobid}`;
      if (!active) {
        await platform`update cron.job set active = true where jobid = ${job.jobid}`;
        reactivated = job.jobid;
      }
      await stack.warmFunction("check-fly-apps-health");
      const [result] = await admin.unsafe(job.command);
      const requestId = Number(Object.values(result)[0]);
      [{ runid: runId }] = await platform<{ runid: number }[]>`
        insert into cron.job_run_details (jobid, runid, job_pid, database, username, command, status,
                                          return_message, start_time, end_time)
        values (${job.jobid}, nextval('cron.runid_seq'), pg_backend_pid(), ${job.database}, ${job.username},
                ${job.command}, 'succeeded', '1 row', now(), now())
        returning runid::int`;
      await waitFor("the function's 202 in net._http_response", async () => {
        const [row] = await admin`select status_code from net._http_response where id = ${requestId}`;
        return row?.status_code === 202;
      });

      const [{ since }] = await admin<{ since: string | null }[]>`
        select private.ops_doctor_report() -> 'cron' ->> 'scheduled_since' as since`;
      assert(since !== null && !Number.isNaN(Date.parse(since)), `scheduled_since reported: ${since}`);
      const healthy = await ops(stack, ["doctor"]);
      assertEquals(healthy.code, 0, `${healthy.out}\n${healthy.err}`);
      assert(healthy.out.includes("all checks passed"), healthy.out);
      for (
        const check of [
          "function fly-apps-admin",
          "vault.project_url",
          "cron.last_run",
          "net.responses",
          "fly.token",
        ]
      ) {
        assert(healthy.out.includes(check), `${check} reported: ${healthy.out}`);
      }

      await admin`delete from vault.secrets where name = 'fly_kick_secret'`;
      const broken = await ops(stack, ["doctor", "--json"]);
      assertEquals(broken.code, 1, broken.err);
      const failed = JSON.parse(broken.out).checks.filter((c: { ok: boolean | null }) => c.ok === false);
      assertEquals(failed.map((c: { name: string }) => c.name), ["vault.fly_kick_secret"]);
      assert(failed[0].detail.includes("missing"), failed[0].detail);
      assert(broken.err.includes("vault.fly_kick_secret"), broken.err);

      await admin`select vault.create_secret(${stack.services.kickSecret}, 'fly_kick_secret')`;
      const restored = await ops(stack, ["doctor"]);
      assertEquals(restored.code, 0, `${restored.out}\n${restored.err}`);

      // The admin secret left in Vault under the legacy name (one secret, before the split): the doctor fails.
      await admin`select vault.create_secret(${stack.services.provisionerSecret}, 'fly_provisioner_secret')`;
      const leaked = await ops(stack, ["doctor", "--json"]);
      assertEquals(leaked.code, 1, leaked.err);
      const leakedChecks = JSON.parse(leaked.out).checks.filter((c: { ok: boolean | null }) =>
        c.ok === false
      );
      assertEquals(leakedChecks.map((c: { name: string }) => c.name), ["vault.no_admin_secret"]);
      assert(leakedChecks[0].detail.includes("equals PROVISIONER_SECRET"), leakedChecks[0].detail);
      await admin`delete from vault.secrets where name = 'fly_provisioner_secret'`;
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
    if (runId !== undefined) await platform`delete from cron.job_run_details where runid = ${runId}`;
    if (reactivated !== undefined) {
      await platform`update cron.job set active = false where jobid = ${reactivated}`;
    }
    await admin.end({ timeout: 2 });
    await platform.end({ timeout: 2 });
  }
});
