/** The credential step: when it mints, what it returns, and that the token stays out of events and logs. */
import { jwtVerify } from "jose";
import { ensureCredential } from "../../supabase/functions/_shared/engine/credential_step.ts";
import type { ReconcileContext } from "../../supabase/functions/_shared/engine/context.ts";
import { assert, assertEquals } from "../_support/assert.ts";
import { LEGACY_SECRET } from "../credentials/_keys.ts";
import { type EngineFixture, withEngine } from "../_support/engine_fixture.ts";

const APP = "cred-step-app";
const DAY_MS = 86_400_000;

async function setUp(fixture: EngineFixture) {
  fixture.reconfigure({ USER_JWT_SIGNING_KEY: LEGACY_SECRET, USER_JWT_TTL_SECONDS: String(90 * 86_400) });
  const [userId] = await fixture.subscribe("pro");
  const row = await fixture.row(userId);
  await fixture.deps.fly.apps.create({ name: APP, org_slug: fixture.emulator.orgSlug });
  const context = (recorded: Record<string, unknown> = {}): ReconcileContext => ({
    ...fixture.deps,
    row: { ...row, ...recorded },
    deadline: Date.now() + 20_000,
    signal: new AbortController().signal,
    patch: {},
    events: [],
  });
  return { userId, context };
}

Deno.test("credential step: mints when missing, verifies as the user, keeps the token out of events", async () => {
  await withEngine(async (fixture) => {
    const { userId, context } = await setUp(fixture);
    const now = new Date();
    const ctx = context();
    const outcome = await ensureCredential(ctx, { appName: APP, now });
    const token = outcome.secrets.SUPABASE_USER_JWT;
    assert(token, "the secret to set is returned under the configured name");
    const { payload } = await jwtVerify(token, new TextEncoder().encode(LEGACY_SECRET), {
      audience: "authenticated",
    });
    assertEquals([payload.sub, payload.role, payload.iss], [
      userId,
      "authenticated",
      "http://127.0.0.1:9/auth/v1",
    ]);
    assertEquals(outcome.patch?.credential_expires_at, new Date(payload.exp! * 1000).toISOString());
    assert(outcome.patch?.credential_key_id.startsWith("hs256:"));
    assertEquals(ctx.events.map((e) => [e.event_type, e.metadata?.reason]), [[
      "credential_minted",
      "missing",
    ]]);
    const visible = JSON.stringify({ events: ctx.events, patch: outcome.patch, logs: fixture.logs });
    assert(
      !visible.includes(token) && !visible.includes(token.split(".")[2]),
      "no token in events/patch/logs",
    );
  });
});

Deno.test("credential step: no re-mint while fresh and present; re-mint near expiry, on a new key, or if unset", async () => {
  await withEngine(async (fixture) => {
    const { context } = await setUp(fixture);
    const first = await ensureCredential(context(), { appName: APP });
    await fixture.deps.fly.secrets.update(APP, first.secrets);
    const fresh = { ...first.patch };

    assertEquals(await ensureCredential(context(fresh), { appName: APP }), { secrets: {}, patch: null });

    const in29Days = new Date(Date.now() + 29 * DAY_MS).toISOString();
    const nearExpiry = await ensureCredential(context({ ...fresh, credential_expires_at: in29Days }), {
      appName: APP,
    });
    assert(
      nearExpiry.patch && nearExpiry.patch.credential_expires_at > in29Days,
      "under a third left: re-minted",
    );

    const rotated = await ensureCredential(context({ ...fresh, credential_key_id: "old-kid" }), {
      appName: APP,
    });
    assert(rotated.secrets.SUPABASE_USER_JWT, "signed by another key: re-minted");

    const lost = await ensureCredential(context(fresh), { appName: APP, presentSecretNames: new Set() });
    assert(lost.secrets.SUPABASE_USER_JWT, "the secret is missing on the app: re-minted");

    fixture.reconfigure({});
    assertEquals(
      await ensureCredential(context(), { appName: APP }),
      { secrets: {}, patch: null },
      "off by default",
    );
  });
});
