/**
 * End to end through the local stack (tier change, gateway, functions, emulator) with a volume plan, a 5 s
 * downgrade grace and a scoped user credential configured:
 *
 * - an upgrade gives one volume and one machine mounting it, even with 30% of responses dropped;
 * - the credential is in the app's secrets with the right claims and in no row, event or log line, and a
 *   sweep re-mints it near its expiry;
 * - a downgrade stops the machine and keeps the app; the sweeps delete it with its volume after the grace;
 * - a downgrade followed by an upgrade within the grace starts the same machine again within seconds.
 */
import { jwtVerify } from "jose";
import { assert, assertEquals } from "../_support/assert.ts";
import { waitFor } from "../_support/wait.ts";
import { LEGACY_SECRET } from "../credentials/_keys.ts";
import { assertAbsent, type EmulatedApp, liveMachines, type Stack, startStack } from "./_support.ts";

const GRACE_SECONDS = 5;
const SECRET_NAME = "SUPABASE_USER_JWT";

/** The grace-related columns of a user's row. */
interface GraceRow {
  status: string;
  machine_id: string | null;
  volume_id: string | null;
  delete_after: Date | null;
  next_attempt_at: Date | null;
  lease_owner: string | null;
  credential_expires_at: Date | null;
  health_status: string;
}

async function graceRow(stack: Stack, userId: string): Promise<GraceRow | undefined> {
  const [row] = await stack.sql<GraceRow[]>`
    select status, machine_id, volume_id, delete_after, next_attempt_at, lease_owner, credential_expires_at,
           health_status
    from public.user_fly_apps where user_id = ${userId}`;
  return row;
}

/** Waits until the user's row satisfies `ready` with no reconcile in flight. */
function waitRow(stack: Stack, userId: string, what: string, ready: (row: GraceRow) => boolean, ms = 20_000) {
  return waitFor(what, async () => {
    const row = await graceRow(stack, userId);
    return row && row.lease_owner === null && ready(row) && row;
  }, ms);
}

/** The user's only app in the emulator. */
async function onlyApp(stack: Stack, userId: string): Promise<EmulatedApp> {
  const apps = await stack.appsOf(userId);
  assertEquals(apps.length, 1, `one app for ${userId}`);
  return apps[0];
}

/** Every row of the product's tables and the stand-ins', as text. */
async function databaseDump(stack: Stack): Promise<string> {
  const tables = await stack.sql<{ name: string }[]>`
    select format('%I.%I', table_schema, table_name) as name from information_schema.tables
    where table_schema in ('public', 'private', 'net', 'auth') and table_type = 'BASE TABLE'`;
  const parts = await Promise.all(tables.map(async ({ name }) => {
    const [{ dump }] = await stack.sql.unsafe<{ dump: string | null }[]>(
      `select string_agg(to_jsonb(t)::text, E'\\n') as dump from ${name} t`,
    );
    return dump ?? "";
  }));
  return parts.join("\n");
}

/** A pro user whose app is active and healthy. */
async function activeUser(stack: Stack): Promise<{ user: string; row: GraceRow }> {
  const [user] = await stack.newUsers(1);
  await stack.setTier(user, "pro");
  const row = await waitRow(
    stack,
    user,
    "the upgrade",
    (r) => r.status === "active" && r.health_status === "healthy",
  );
  return { user, row };
}

Deno.test("volumes, downgrade grace and scoped credential through gateway and emulator", async (t) => {
  const seed = Math.floor(Math.random() * 2 ** 32);
  const stack = await startStack({
    emulator: { faultSeed: seed },
    functionEnv: { USER_JWT_SIGNING_KEY: LEGACY_SECRET, DEPROVISION_GRACE_SECONDS: String(GRACE_SECONDS) },
  });
  try {
    await stack.sql`update public.fly_plans set volume_size_gb = 1, volume_mount_path = '/data'
                    where tier in ('pro', 'elite')`;

    await t.step("an upgrade with 30% dropped responses: one volume, one machine mounting it", async () => {
      stack.emulator.faults.add({ operation: "*", action: { type: "drop-response" }, probability: 0.3 });
      const [user] = await stack.newUsers(1);
      await stack.setTier(user, "pro");
      for (let sweeps = 0;; sweeps++) {
        const row = await graceRow(stack, user);
        if (row?.status === "active" && row.lease_owner === null) break;
        assert(sweeps < 15, `not converged after 15 sweeps (fault seed ${seed})`);
        await stack.sql`update public.user_fly_apps set next_attempt_at = now()
                        where user_id = ${user} and next_attempt_at > now() and lease_owner is null`;
        await stack.call("check-fly-apps-health", { wait: true });
      }
      stack.emulator.faults.clear();
      const dropped = Object.values(stack.emulator.requestCounts()).reduce((n, c) => n + (c.dropped ?? 0), 0);
      assert(dropped > 0, `responses were dropped (fault seed ${seed})`);
      const app = await onlyApp(stack, user);
      const row = (await graceRow(stack, user))!;
      assertEquals(app.volumes.map((v) => [v.id, v.size_gb, v.region]), [[row.volume_id, 1, "sin"]]);
      assertEquals(app.machines.length, 1, `one machine ever created (fault seed ${seed})`);
      const [machine] = app.machines;
      assertEquals(machine.id, row.machine_id);
      assertEquals((machine.config as { mounts?: unknown }).mounts, [{
        volume: row.volume_id,
        path: "/data",
      }]);
    });

    await t.step(
      "the credential: in the app's secrets with the user's claims, nowhere else; re-minted near expiry",
      async () => {
        const { user, row } = await activeUser(stack);
        const app = await onlyApp(stack, user);
        const token = app.secrets.find((s) => s.name === SECRET_NAME)?.value;
        assert(token, "the credential is an app secret");
        const { payload } = await jwtVerify(token, new TextEncoder().encode(LEGACY_SECRET), {
          audience: "authenticated",
          issuer: `${stack.services.functionEnv.SUPABASE_URL}/auth/v1`,
        });
        assertEquals([payload.sub, payload.role, payload.machine_credential], [user, "authenticated", true]);
        assertEquals(row.credential_expires_at?.getTime(), payload.exp! * 1000);
        assertEquals(JSON.stringify(liveMachines(app)[0].config).includes(token), false, "not in config.env");

        await stack.sql`update public.user_fly_apps set credential_expires_at = now() + interval '1 day'
                      where user_id = ${user}`;
        await stack.sweep();
        const reminted = await waitRow(
          stack,
          user,
          "the re-mint",
          (r) => r.credential_expires_at!.getTime() > Date.now() + 80 * 86_400_000,
        );
        const fresh = (await onlyApp(stack, user)).secrets.find((s) => s.name === SECRET_NAME)?.value;
        assert(fresh && fresh !== token, "a new credential was set");
        assertEquals(reminted.machine_id, row.machine_id, "the same machine, updated");

        const everything = [await databaseDump(stack), ...stack.logs].join("\n");
        for (const value of [token, fresh]) assertAbsent(everything, [value], "rows, events and logs");
      },
    );

    await t.step(
      "a downgrade stops the machine and keeps the app; after the grace, app and volume go",
      async () => {
        const { user, row } = await activeUser(stack);
        const appName = (await onlyApp(stack, user)).name;
        await stack.setTier(user, "free");
        const suspended = await waitRow(stack, user, "the suspension", (r) => r.status === "suspended");
        assertEquals(suspended.machine_id, row.machine_id);
        assertEquals(suspended.next_attempt_at?.getTime(), suspended.delete_after?.getTime());
        const app = await onlyApp(stack, user);
        assertEquals(app.machines.map((m) => [m.id, m.state]), [[row.machine_id, "stopped"]]);
        assertEquals(app.volumes.map((v) => v.id), [row.volume_id]);
        const status = await stack.call("provision-user-fly-app", {
          method: "GET",
          query: { user_id: user },
        });
        assertEquals(status.status, 200);
        assertEquals([status.body.status, Date.parse(status.body.delete_after)], [
          "suspended",
          suspended.delete_after?.getTime(),
        ]);

        // A sweep within the grace neither repairs nor deletes.
        await stack.sweep();
        assertEquals((await onlyApp(stack, user)).machines.map((m) => m.state), ["stopped"]);

        await new Promise((resolve) =>
          setTimeout(resolve, suspended.delete_after!.getTime() - Date.now() + 200)
        );
        for (let sweeps = 0; (await graceRow(stack, user))?.status !== "deleted"; sweeps++) {
          assert(sweeps < 5, "deleted within 5 sweeps after the grace");
          await stack.sweep();
        }
        assertEquals(stack.emulator.state().apps.some((a) => a.name === appName), false, "the app is gone");
        const types = (await stack.events(user)).map((e) => e.event_type);
        for (
          const type of [
            "deprovision_suspended",
            "machine_stopped",
            "grace_expired",
            "volume_deleted",
            "app_deleted",
          ]
        ) {
          assert(types.includes(type), `${type} in ${types.join(", ")}`);
        }
      },
    );

    await t.step("a downgrade then an upgrade within the grace starts the same machine again", async () => {
      const { user, row } = await activeUser(stack);
      await stack.setTier(user, "free");
      await waitRow(stack, user, "the suspension", (r) => r.status === "suspended");
      const upgradedAt = Date.now();
      await stack.setTier(user, "elite");
      const resumed = await waitRow(stack, user, "the resume", (r) => r.status === "active", 10_000);
      const seconds = (Date.now() - upgradedAt) / 1000;
      assert(seconds < 10, `resumed in ${seconds} s`);
      assertEquals([resumed.machine_id, resumed.volume_id, resumed.delete_after], [
        row.machine_id,
        row.volume_id,
        null,
      ]);
      const app = await onlyApp(stack, user);
      assertEquals(app.machines.map((m) => [m.id, m.state]), [[row.machine_id, "started"]]);
      const types = (await stack.events(user)).map((e) => e.event_type);
      assertEquals(types.filter((type) => type === "app_created").length, 1, "no new app");
      assert(types.includes("resumed"), types.join(", "));
    });
  } finally {
    await stack.stop();
  }
});
