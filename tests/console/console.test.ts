/**
 * The operator console in a real headless Chromium, against the local stack with users in every state
 * (active, unhealthy, drifted, held, pending, failed, deleted) and a sweep run: the overview's figures equal
 * the database's; search finds a user by email; the drawer shows that user's events; retry on a failed row
 * makes it converge; hold asks for a reason (recorded in the event), stops the machine and the row shows held; the rollouts screen shows
 * its state (the "not available" state while the API has no rollout routes); a rollout started from its form
 * (confirmed) shows completed and leaves every paid user's machine on the pinned digest; the page works in a narrow
 * window. A page of another site in the same browser cannot act through the console (a no-cors text/plain
 * hold, a form posting a rollout) nor read it by DNS rebinding: each is 403 and the database and the emulator
 * are unchanged. No request the browser makes carries the provisioner secret, and any console or page error
 * fails the test. A screenshot of each screen goes to a temp folder the test prints.
 */
import type { Page } from "puppeteer-core";
import { type ConsoleServer, startConsoleServer } from "../../scripts/console/server.ts";
import { assert, assertEquals } from "../_support/assert.ts";
import { liveMachines, type Stack, startStack } from "../e2e/_support.ts";
import { launchBrowser, type PageRecord, type TestBrowser } from "./_browser.ts";
import { rawRequest } from "./_raw_http.ts";

/** The attacker's host name; the browser resolves it to 127.0.0.1, as a DNS-rebinding site makes it. */
const EVIL = "evil.example";

/** The image the rollout step moves the paid users to: the emulator's image under another tag. */
const ROLLOUT_IMAGE = "registry.fly.io/vyx-user-backend:console-b";

/** Text of `[data-testid=<id>] [data-value]` on the page. */
async function cardValue(page: Page, id: string): Promise<number> {
  const text = await page.$eval(`[data-testid=${id}] [data-value]`, (el) => el.textContent ?? "");
  return Number(text.replace(/[^0-9.]/g, ""));
}

/**
 * How far the open drawer scrolls sideways, with every metadata block opened, and which of its elements
 * scroll sideways themselves (a `pre` too wide for the drawer).
 */
async function drawerOverflow(page: Page): Promise<{ drawer: number; wide: string[] }> {
  return await page.evaluate(`(() => {
    const drawer = document.querySelector("[data-testid=drawer]");
    for (const details of drawer.querySelectorAll("details")) details.open = true;
    const wide = [...drawer.querySelectorAll("*")]
      .filter((el) => el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
      .map((el) => el.tagName.toLowerCase() + (el.className ? "." + el.className : ""));
    return { drawer: drawer.scrollWidth - drawer.clientWidth, wide };
  })()`) as { drawer: number; wide: string[] };
}

/** A page expression: the table shows exactly one row, the user's (page code is a string: no DOM types here). */
function onlyRow(user: string): string {
  return `(() => { const rows = document.querySelectorAll("[data-testid=app-row]");
    return rows.length === 1 && rows[0].getAttribute("data-user") === ${JSON.stringify(user)}; })()`;
}

/** The database's own figures for the overview cards (deleted rows are not counted). */
async function databaseFigures(stack: Stack) {
  const [row] = await stack.sql`
    select count(*)::int as total,
           count(*) filter (where status = 'active')::int as active,
           count(*) filter (where status in ('pending', 'provisioning', 'deprovisioning'))::int as provisioning,
           count(*) filter (where status in ('error', 'failed'))::int as errors,
           count(*) filter (where status = 'active' and health_status <> 'healthy')::int as unhealthy,
           count(*) filter (where held_at is not null)::int as held,
           count(*) filter (where drift <> '{}'::jsonb)::int as drifted
    from public.user_fly_apps where status <> 'deleted'`;
  return row;
}

/**
 * Another site's page: on load it posts a hold of `user` to the console as `fetch(…, {mode: "no-cors"})`
 * with a text/plain body, then submits a form that posts a rollout of its own image.
 */
function attackerSite(consoleUrl: string, user: string) {
  const page = `<!doctype html><title>cute cats</title>
    <form id="f" method="POST" enctype="text/plain" action="${consoleUrl}/api/rollouts">
      <input name='{"image":"registry.fly.io/evil:latest","canary":1,"x":"' value='"}'>
    </form>
    <script>
      fetch("${consoleUrl}/api/apps/${user}/hold", {
        method: "POST", mode: "no-cors", headers: {"content-type": "text/plain"}, body: '{"reason":"csrf"}',
      }).catch(() => {}).finally(() => document.getElementById("f").submit());
    </script>`;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(page, { headers: { "content-type": "text/html" } }),
  );
  return { url: `http://${EVIL}:${server.addr.port}/`, close: () => server.shutdown() };
}

/** What an attack through the console would change: the user's row and events, the rollouts, Fly's machines. */
async function attackSurface(stack: Stack, user: string) {
  const [row] = await stack.sql`select held_at, hold_reason, status from public.user_fly_apps
    where user_id = ${user}`;
  const [{ rollouts }] = await stack.sql`select count(*)::int as rollouts from public.fly_rollouts`;
  const snapshot = await stack.flyControl.state();
  const machines = snapshot.apps.flatMap((app) =>
    app.machines.map((m) => `${app.name} ${m.id} ${m.state} ${m.config?.image}`)
  ).sort();
  return { row, rollouts, events: (await stack.events(user)).length, machines };
}

/** Users in every state; returns who is who. */
async function seedFleet(stack: Stack) {
  const [active, unhealthy, drifted, toHold, failed, pending, deleted] = await stack.newUsers(7);
  const names = { active, unhealthy, drifted, toHold, failed, pending, deleted };
  for (const [name, user] of Object.entries(names)) {
    await stack.sql`update auth.users set email = ${`${name.toLowerCase()}-${user.slice(0, 8)}@example.com`}
      where id = ${user}`;
  }
  for (const user of [active, unhealthy, drifted, toHold, deleted]) {
    await stack.setTier(user, "pro");
    const answer = await stack.call("provision-user-fly-app", { wait: true, body: { user_id: user } });
    assertEquals(answer.status, 200, JSON.stringify(answer.body));
  }
  await stack.sweep();
  await stack.setTier(deleted, "free");
  await stack.call("deprovision-user-fly-app", { wait: true, body: { user_id: deleted } });
  await stack.sql`update public.user_fly_apps set health_status = 'unhealthy' where user_id = ${unhealthy}`;
  await stack.sql`update public.user_fly_apps set drift = '{"image": {"want": "b", "have": "a"}}'::jsonb
    where user_id = ${drifted}`;
  await stack.setTier(pending, "pro");
  // A failed provisioning: Fly answers 503 to every app creation until the fault is cleared.
  await stack.flyControl.addFault({ operation: "Apps_create", action: { type: "status", status: 503 } });
  await stack.setTier(failed, "pro");
  await stack.call("provision-user-fly-app", { wait: true, body: { user_id: failed } });
  await stack.flyControl.clearFaults();
  const failedRow = await stack.row(failed);
  assert(["failed", "error"].includes(failedRow?.status ?? ""), `failed row: ${failedRow?.status}`);
  return { active, unhealthy, drifted, toHold, failed, pending, deleted };
}

Deno.test({
  name: "the console in headless Chromium: overview, search, drawer, retry, hold, rollouts, no secret",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    // App creates at 10/s (functions and emulator alike): the fleet is seeded quickly; limits are tested elsewhere.
    const stack = await startStack({
      netWorker: false,
      functionEnv: { FLY_APP_CREATE_RATE_PER_S: "10", FLY_APP_CREATE_BURST: "10" },
    });
    let server: ConsoleServer | undefined;
    let browser: TestBrowser | undefined;
    const shots = await Deno.makeTempDir({ prefix: "console-screenshots-" });
    console.log(`screenshots: ${shots}`);
    const record: PageRecord = { errors: [], requests: [] };
    try {
      const users = await seedFleet(stack);
      const emailOf = async (user: string) =>
        (await stack.sql`select email from auth.users where id = ${user}`)[0].email as string;
      server = await startConsoleServer({
        functionsUrl: `${stack.services.gatewayUrl}/functions/v1`,
        provisionerSecret: stack.services.provisionerSecret,
        port: 0,
      });
      browser = await launchBrowser({ resolve: { [EVIL]: "127.0.0.1" } });
      const page = await browser.newPage(record);
      const open = async (hash: string) => {
        await page.goto(`${server!.url}/#/${hash}`, { waitUntil: "domcontentloaded" });
      };

      await t.step("the overview's figures equal the database's", async () => {
        await open("overview");
        await page.waitForSelector("[data-testid=card-total] [data-value]");
        await page.waitForSelector("[data-testid=sweep-runs]");
        const expected = await databaseFigures(stack);
        assert(
          expected.total === 6 && expected.held === 0 && expected.errors === 1,
          JSON.stringify(expected),
        );
        const shown = {
          total: await cardValue(page, "card-total"),
          active: await cardValue(page, "card-active"),
          provisioning: await cardValue(page, "card-provisioning"),
          errors: await cardValue(page, "card-errors"),
          unhealthy: await cardValue(page, "card-unhealthy"),
          held: await cardValue(page, "card-held"),
          drifted: await cardValue(page, "card-drifted"),
        };
        assertEquals(shown, expected);
        // The health chart ends where the tiles are: its last point is the Unhealthy tile, the database's.
        const last = JSON.parse(
          await page.$eval("[data-testid=chart-health]", (el) => el.getAttribute("data-last") ?? "{}"),
        );
        assertEquals(last, { healthy: expected.active - expected.unhealthy, unhealthy: expected.unhealthy });
        assert(expected.unhealthy === 1, `one unhealthy user seeded: ${expected.unhealthy}`);
        await page.screenshot({ path: `${shots}/overview.png` });
      });

      await t.step(
        "the apps table: by email, then user id; two refreshes keep row order and scroll",
        async () => {
          // A short window, so the table scrolls.
          await page.setViewport({ width: 1280, height: 420 });
          await open("apps");
          await page.waitForSelector("[data-testid=app-row]");
          const rows = await stack.sql<{ user_id: string; email: string | null }[]>`
          select a.user_id::text, u.email from public.user_fly_apps a left join auth.users u on u.id = a.user_id`;
          const byte = (a: string, b: string) => a < b ? -1 : a > b ? 1 : 0;
          const expected = rows.map((r) => ({ key: (r.email ?? "").toLowerCase(), user: r.user_id }))
            .sort((a, b) => byte(a.key, b.key) || byte(a.user, b.user)).map((r) => r.user);
          const order = () =>
            page.$$eval("[data-testid=app-row]", (els) => els.map((el) => el.getAttribute("data-user")));
          assertEquals(await order(), expected);
          const scrolled = await page.evaluate(`scrollTo(0, 120), scrollY`) as number;
          assert(scrolled > 0, "the table scrolls in a 420 px window");
          for (let refresh = 1; refresh <= 2; refresh++) {
            await page.waitForResponse((r) => new URL(r.url()).pathname === "/api/apps", { timeout: 10_000 });
            await new Promise((resolve) => setTimeout(resolve, 200));
            assertEquals(await order(), expected, `row order after refresh ${refresh}`);
            assertEquals(await page.evaluate(`scrollY`), scrolled, `scroll after refresh ${refresh}`);
          }
          await page.setViewport({ width: 1280, height: 800 });
        },
      );

      await t.step("the image column shows tag @ short digest, the full reference on hover", async () => {
        const [{ docker_image: image, image_digest: digest }] = await stack.sql<
          { docker_image: string; image_digest: string }[]
        >`select docker_image, image_digest from public.user_fly_apps where user_id = ${users.active}`;
        assert(digest?.startsWith("sha256:") && image?.includes(":"), `${image} ${digest}`);
        const cell = await page.$eval(
          `[data-user="${users.active}"] [data-testid=image]`,
          (el) => [el.textContent?.trim(), el.getAttribute("title")],
        );
        const tag = image.split("@")[0].split(":").at(-1);
        assertEquals(cell, [`${tag} @ ${digest.slice(7, 15)}`, `${image} @ ${digest}`]);
      });

      await t.step("a deleted row offers no Retry or Hold", async () => {
        const row = `[data-user="${users.deleted}"][data-status=deleted]`;
        await page.waitForSelector(row);
        assertEquals(await page.$$eval(`${row} button[data-action]`, (els) => els.length), 0);
        const active = await page.$$eval(
          `[data-user="${users.active}"] button[data-action]`,
          (els) => els.map((el) => el.getAttribute("data-action")),
        );
        assertEquals(active, ["retry", "hold", "restart"], "an active row offers them");
      });

      await t.step("search finds a user by email", async () => {
        await open("apps");
        await page.waitForSelector("[data-testid=app-row]");
        const email = await emailOf(users.drifted);
        await page.type("[data-testid=search]", email.split("@")[0]);
        await page.waitForFunction(onlyRow(users.drifted));
        await page.screenshot({ path: `${shots}/apps.png` });
      });

      await t.step("the drawer shows the user's events", async () => {
        await page.click(`[data-user="${users.drifted}"] a.user`);
        await page.waitForSelector("[data-testid=drawer] [data-testid=event]");
        const events = await stack.events(users.drifted);
        await page.waitForFunction(
          `document.querySelectorAll("[data-testid=drawer] [data-testid=event]").length === ${
            Math.min(events.length, 50)
          }`,
        );
        const shown = await page.$$eval(
          "[data-testid=event]",
          (els) => els.map((el) => el.getAttribute("data-type")),
        );
        assertEquals(shown, events.map((e) => e.event_type).reverse().slice(0, 50));
        await page.waitForSelector("[data-testid=drawer] [data-testid=machines]");
        assertEquals(await drawerOverflow(page), { drawer: 0, wide: [] }, "at 1280×800");
        await page.screenshot({ path: `${shots}/drawer.png` });
        await page.keyboard.press("Escape");
        await page.waitForFunction(`!document.querySelector("[data-testid=drawer]")`);
      });

      await t.step(
        "at 1280×800 the drawer has no horizontal overflow and says which health is newer",
        async () => {
          await open(`apps/${users.unhealthy}`);
          await page.waitForSelector("[data-testid=drawer] [data-testid=machines]");
          await page.waitForSelector("[data-testid=drawer] [data-testid=events]");
          assertEquals(await page.evaluate(`[innerWidth, innerHeight]`), [1280, 800]);
          assertEquals(await drawerOverflow(page), { drawer: 0, wide: [] });
          const [row] = await stack.sql<{ recorded: Date | null; health: string }[]>`
          select coalesce(last_health_check_at, last_observed_at) as recorded, health_status as health
          from public.user_fly_apps where user_id = ${users.unhealthy}`;
          const [recordedAt, liveAt, newer, badge] = await page.evaluate(`[
          document.querySelector("[data-testid=health-recorded]").getAttribute("data-at"),
          document.querySelector("[data-testid=health-live]").getAttribute("data-at"),
          document.querySelector("[data-testid=health-newer]").getAttribute("data-newer"),
          document.querySelector("[data-testid=health-recorded] .badge").textContent.trim(),
        ]`) as string[];
          assertEquals(badge, row.health);
          assertEquals(new Date(recordedAt).getTime(), row.recorded?.getTime());
          const machine = liveMachines((await stack.appsOf(users.unhealthy))[0])[0];
          assertEquals(new Date(liveAt).getTime(), new Date(String(machine.updated_at)).getTime());
          assertEquals(newer, new Date(liveAt) > new Date(recordedAt) ? "live" : "recorded");
          await page.screenshot({ path: `${shots}/drawer-health.png` });
          await page.keyboard.press("Escape");
          await page.waitForFunction(`!document.querySelector("[data-testid=drawer]")`);
        },
      );

      const showOnly = async (user: string) => {
        const search = await page.$("[data-testid=search]");
        await search!.click({ count: 3 });
        await search!.type(await emailOf(user));
        await page.waitForFunction(onlyRow(user));
      };

      await t.step("retry on a failed row makes it converge", async () => {
        await showOnly(users.failed);
        await page.click(`[data-user="${users.failed}"] button[data-action=retry]`);
        await page.waitForSelector(`[data-user="${users.failed}"][data-status=active]`, { timeout: 30_000 });
        const row = await stack.row(users.failed);
        assertEquals([row?.status, row?.error_message], ["active", null]);
        assertEquals(liveMachines((await stack.appsOf(users.failed))[0]).map((m) => m.state), ["started"]);
      });

      await t.step("hold asks first, stops the machine, and the row shows held", async () => {
        await showOnly(users.toHold);
        await page.click(`[data-user="${users.toHold}"] button[data-action=hold]`);
        await page.waitForSelector("[data-testid=confirm]");
        await page.screenshot({ path: `${shots}/confirm.png` });
        assertEquals((await stack.row(users.toHold))?.status, "active", "nothing happens before confirming");
        assert(
          await page.$eval(
            "[data-testid=confirm-ok]",
            (el) => (el as unknown as { disabled: boolean }).disabled,
          ),
          "Hold waits for a reason",
        );
        await page.type("[data-testid=confirm-reason]", "chargeback under review");
        await page.click("[data-testid=confirm-ok]");
        await page.waitForSelector(`[data-user="${users.toHold}"] button[data-action=release]`, {
          timeout: 30_000,
        });
        await page.waitForSelector(`[data-user="${users.toHold}"][data-status=held]`, { timeout: 30_000 });
        const machines = liveMachines((await stack.appsOf(users.toHold))[0]);
        assertEquals(machines.map((m) => m.state), ["stopped"]);
        const [event] = await stack.sql`select metadata from public.user_fly_app_events
          where user_id = ${users.toHold} and event_type = 'hold_set' order by seq desc limit 1`;
        assertEquals(event.metadata.reason, "chargeback under review");
        const [held] = await stack
          .sql`select hold_reason from public.user_fly_apps where user_id = ${users.toHold}`;
        assertEquals(held.hold_reason, "chargeback under review");
      });

      await t.step("another site's page can neither act through the console nor read it", async () => {
        const before = await attackSurface(stack, users.active);
        const attacker = attackerSite(server!.url, users.active);
        // Its own record: the attacker's page errors (the refused requests) are not the console's.
        const evil = await browser!.newPage({ errors: [], requests: [] });
        try {
          const holdPath = `/api/apps/${users.active}/hold`;
          // The no-cors answer never reaches the other site's page: Cross-Origin-Resource-Policy withholds it.
          const hold = new Promise<string | undefined>((resolve) => {
            evil.on("requestfailed", (r) => r.url().endsWith(holdPath) && resolve(r.failure()?.errorText));
            evil.on("response", (r) => r.url().endsWith(holdPath) && resolve(`answered ${r.status()}`));
          });
          const form = evil.waitForResponse((r) =>
            r.url().endsWith("/api/rollouts") && r.request().method() === "POST"
          );
          await evil.goto(attacker.url);
          assertEquals(await hold, "net::ERR_BLOCKED_BY_RESPONSE.NotSameOrigin");
          // The form navigates to the console's answer: the refusal, and the hold was answered before it.
          assertEquals((await form).status(), 403);
          // DNS rebinding: the attacker's name now resolves to the console's address.
          const rebound = await evil.goto(`http://${EVIL}:${server!.port}/`);
          assertEquals(rebound?.status(), 403);
          await evil.setBypassCSP(true);
          assertEquals(await evil.evaluate(`fetch("/api/apps?limit=1").then((r) => r.status)`), 403);
          const read = await rawRequest(`${server!.url}/api/apps?limit=1`, {
            headers: { host: `${EVIL}:1234` },
          });
          assertEquals(read.status, 403);
          assert(!read.body.includes("@example.com"), "no user's data in the refusal");
        } finally {
          await evil.close();
          await attacker.close();
        }
        assertEquals(await attackSurface(stack, users.active), before);
      });

      await t.step("the rollouts screen shows its state", async () => {
        await open("rollouts");
        const features = await (await fetch(`${server!.url}/console.json`)).json();
        if (features.rollouts) {
          await page.waitForSelector("[data-testid=rollout-form]");
        } else {
          await page.waitForSelector("[data-testid=rollouts-unavailable]");
        }
        await page.screenshot({ path: `${shots}/rollouts.png` });
      });

      await t.step(
        "a rollout started from the page completes: every paid machine runs the new digest",
        async () => {
          const features = await (await fetch(`${server!.url}/console.json`)).json();
          assertEquals(features, { rollouts: true });
          // Every paid user gets a running machine first: release the held one, provision the pending one.
          await open("apps");
          await showOnly(users.toHold);
          await page.click(`[data-user="${users.toHold}"] button[data-action=release]`);
          await page.waitForSelector(`[data-user="${users.toHold}"][data-status=active]`, {
            timeout: 30_000,
          });
          const provisioned = await stack.call("provision-user-fly-app", {
            wait: true,
            body: { user_id: users.pending },
          });
          assertEquals(provisioned.status, 200, JSON.stringify(provisioned.body));
          await open("rollouts");
          await page.waitForSelector("[data-testid=rollout-form]");
          // The form's numbers start empty: the API's defaults apply, shown as placeholders.
          const fields = await page.$$eval(
            "[data-testid=rollout-form] input[type=number]",
            (els) =>
              els.map((
                el,
              ) => [
                el.getAttribute("data-testid"),
                (el as unknown as { value: string }).value,
                el.getAttribute("placeholder"),
              ]),
          );
          assertEquals(fields, [
            ["rollout-canary", "", "1"],
            ["rollout-batch", "", "⅓ fleet"],
            ["rollout-max-failures", "", "0"],
            ["rollout-bake", "", "0"],
          ]);
          // Which version runs where: one row per tier and digest.
          await page.waitForSelector("[data-testid=versions-chart] tr[data-tier=pro]");
          await page.type("[data-testid=rollout-image]", ROLLOUT_IMAGE);
          for (const [field, value] of [["canary", "1"], ["batch", "2"]]) {
            const input = await page.$(`[data-testid=rollout-${field}]`);
            await input!.click({ count: 3 });
            await input!.type(value);
          }
          await page.click("[data-testid=rollout-start]");
          await page.waitForSelector("[data-testid=confirm]");
          await page.click("[data-testid=confirm-ok]");
          await page.waitForSelector("[data-testid=rollout-detail]");
          const [rollout] = await stack.sql<
            { id: string; canary_count: number; batch_size: number; max_failures: number }[]
          >`select id, canary_count, batch_size, max_failures from public.fly_rollouts
            order by created_at desc limit 1`;
          // Max failures left empty: the API's default (0).
          assertEquals([rollout.canary_count, rollout.batch_size, rollout.max_failures], [1, 2, 0]);
          // The admin API drives the rollout in the background; sweeps carry it on if that stops early.
          const completed = page.waitForSelector(
            `[data-testid=rollout-progress][data-id="${rollout.id}"][data-state=completed]`,
            { timeout: 60_000 },
          );
          let shown = false;
          completed.then(() => shown = true, () => shown = true);
          while (!shown) {
            await stack.sweep();
            const [{ state }] = await stack
              .sql`select state from public.fly_rollouts where id = ${rollout.id}`;
            if (state === "halted" || state === "aborted") {
              const targets = await stack
                .sql`select user_id, batch, state, error from public.fly_rollout_targets
                where rollout_id = ${rollout.id} order by batch`;
              throw new Error(`rollout ${state}: ${JSON.stringify(targets)}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
          await completed;
          // The detail polls on its own: wait until it has seen the end too.
          await page.waitForSelector("[data-testid=rollout-detail][data-state=completed]", {
            timeout: 15_000,
          });
          // One line per batch, the canary's first.
          const firstLine = await page.$eval(
            "[data-testid=rollout-lines] li",
            (el) => (el as unknown as { textContent: string }).textContent,
          );
          assert(firstLine.startsWith("batch 0 (canary): 1 healthy"), firstLine);
          const [{ image_digest: digest }] = await stack.sql<{ image_digest: string }[]>`
          select image_digest from public.fly_rollouts where id = ${rollout.id}`;
          assert(digest?.startsWith("sha256:"), `pinned digest: ${digest}`);
          const paid = await stack.sql<{ user_id: string }[]>`
          select a.user_id from public.user_fly_apps a
          join public.user_subscriptions s on s.user_id = a.user_id
          join public.fly_plans p on p.tier = s.tier and p.dedicated_app
          where a.desired_state = 'present'`;
          const expected = [
            users.active,
            users.unhealthy,
            users.drifted,
            users.toHold,
            users.failed,
            users.pending,
          ];
          assertEquals(paid.map((row) => row.user_id).sort(), expected.sort());
          for (const { user_id: user } of paid) {
            const machines = liveMachines((await stack.appsOf(user))[0]);
            assertEquals(machines.map((m) => m.image_ref?.digest), [digest], `machines of ${user}`);
          }
          await page.waitForSelector("[data-testid=rollout-detail][data-state=completed] [data-batch]", {
            timeout: 30_000,
          });
          await page.screenshot({ path: `${shots}/rollouts-completed.png`, fullPage: true });
        },
      );

      await t.step("the overview shows the last rollout with its state", async () => {
        const [last] = await stack.sql<{ id: string; state: string }[]>`
          select id, state from public.fly_rollouts order by created_at desc limit 1`;
        assertEquals(last.state, "completed");
        await open("overview");
        await page.waitForSelector(
          `[data-testid=last-rollout] [data-testid=rollout-progress][data-id="${last.id}"][data-state=completed]`,
        );
        const badge = await page.$eval("[data-testid=last-rollout] .badge", (el) => el.textContent?.trim());
        assertEquals(badge, "completed");
      });

      await t.step("machines on images pinned by digest: the drawer still fits 1280×800", async () => {
        await page.setViewport({ width: 1280, height: 800 });
        // The rollout's canary got the tag; the machines after it got the image pinned to its digest.
        const [pinned] = await stack.sql<{ user_id: string; docker_image: string }[]>`
          select user_id, docker_image from public.user_fly_apps
          where docker_image ~ '@sha256:[0-9a-f]{64}$' order by user_id limit 1`;
        assert(pinned, "a user whose machine runs an image pinned by digest");
        await open(`apps/${pinned.user_id}`);
        await page.waitForSelector("[data-testid=drawer] [data-testid=machines]");
        await page.waitForSelector("[data-testid=drawer] [data-testid=events]");
        assertEquals(await drawerOverflow(page), { drawer: 0, wide: [] });
        await page.screenshot({ path: `${shots}/drawer-pinned.png` });
        await page.keyboard.press("Escape");
        await page.waitForFunction(`!document.querySelector("[data-testid=drawer]")`);
      });

      await t.step("a sweep run shows its share of the budget, amber above 60 %", async () => {
        const [slow] = await stack.sql<{ id: string }[]>`
          insert into public.fly_sweep_runs (finished_at, duration_ms, budget_ms)
          values (now(), 33000, 45000) returning id::text`;
        await open("overview");
        // A run that finished after the page's last fetch shows with the next refresh (every 4 s).
        const share = async (run: string) => {
          const selector = `[data-testid=sweep-runs] [data-run="${run}"] [data-testid=budget-share]`;
          await page.waitForSelector(selector, { timeout: 15_000 });
          return await page.$eval(selector, (el) => [el.textContent?.trim(), el.classList.contains("warn")]);
        };
        await page.waitForSelector(`[data-testid=sweep-runs] [data-run="${slow.id}"]`);
        assertEquals(await share(slow.id), ["73 %", true]);
        const [quick] = await stack.sql<{ id: string; duration_ms: number; budget_ms: number }[]>`
          select id::text, duration_ms, budget_ms from public.fly_sweep_runs
          where duration_ms is not null and id <> ${slow.id} order by id desc limit 1`;
        assert(quick.duration_ms / quick.budget_ms <= 0.6, JSON.stringify(quick));
        assertEquals(await share(quick.id), [
          `${Math.round((quick.duration_ms / quick.budget_ms) * 100)} %`,
          false,
        ]);
      });

      await t.step(
        "an idle machine: the Idle tile counts it, its row and drawer say idle since when",
        async () => {
          await stack
            .sql`update public.user_fly_apps set health_status = 'idle' where user_id = ${users.drifted}`;
          await stack
            .sql`select private.append_user_fly_app_event(${users.drifted}::uuid, 'health_changed', 'info',
          '{"from": "healthy", "to": "idle"}'::jsonb)`;
          await open("overview");
          await page.waitForFunction(
            `document.querySelector("[data-testid=card-idle] [data-value]")?.textContent === "1"`,
          );
          await page.waitForSelector("[data-testid=plan-running] tbody tr");
          await open(`apps/${users.drifted}`);
          await page.waitForSelector("[data-testid=drawer] [data-testid=drawer-idle-since]");
          assert(
            (await page.$eval("[data-testid=drawer-idle-since]", (el) => el.textContent ?? "")).startsWith(
              "idle since",
            ),
          );
          await page.keyboard.press("Escape");
          await page.waitForSelector(`[data-user="${users.drifted}"] [data-testid=idle-since]`);
        },
      );

      await t.step("a narrow window: no horizontal scrolling on the overview", async () => {
        await page.setViewport({ width: 390, height: 800 });
        await open("overview");
        await page.waitForSelector("[data-testid=card-total] [data-value]");
        const overflow = await page.evaluate(`document.documentElement.scrollWidth - innerWidth`) as number;
        assert(overflow <= 0, `the page is ${overflow}px wider than the window`);
        await page.screenshot({ path: `${shots}/overview-narrow.png`, fullPage: true });
      });

      await t.step(
        "no request from the browser carries the secret; its changes carry the token, as JSON",
        () => {
          const secret = stack.services.provisionerSecret;
          assert(record.requests.length > 10, `requests recorded: ${record.requests.length}`);
          const leaks = record.requests.filter((r) => JSON.stringify(r).includes(secret));
          assertEquals(leaks.map((r) => r.url), []);
          assert(record.requests.every((r) => !("authorization" in r.headers)), "no Authorization header");
          const changes = record.requests.filter((r) =>
            r.method !== "GET" && new URL(r.url).pathname.startsWith("/api/")
          );
          assert(changes.length >= 3, `the page's own changes: ${changes.length}`);
          for (const r of changes) {
            assert(r.headers["x-console-token"] && r.headers["content-type"] === "application/json", r.url);
          }
        },
      );

      await t.step("no console error and no page error", () => {
        assertEquals(record.errors, []);
      });
    } finally {
      await browser?.close();
      await server?.close();
      await stack.stop();
    }
  },
});
