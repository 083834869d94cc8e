/**
 * `deno task bench console`: the operator console with 10,000 app rows in the database (inserted directly
 * with SQL, in every status), in headless Chromium. Prints the time from navigation to the overview's
 * figures on screen (`first_paint_ms`; the browser's first contentful paint as `fcp_ms`), and the time from
 * choosing a status filter on the apps table to the filtered rows on screen (`filter_ms`; server-side
 * filtering through the proxy and the admin API), then `BENCH console rows=… first_paint_ms=… filter_ms=…`.
 * Size with `--rows=N` or CONSOLE_BENCH_ROWS.
 *
 * @module
 */
import { launchBrowser } from "../../tests/console/_browser.ts";
import { startConsoleServer } from "../console/server.ts";
import { intSetting, startBenchStack } from "./_support.ts";

const rows = intSetting("rows", "CONSOLE_BENCH_ROWS", 10_000);
const runs = 3;
const stack = await startBenchStack({ emulator: { latency: "fast" } });
const browser = await launchBrowser();
try {
  const sql = stack.db.sql;
  await sql`
    with users as (
      insert into auth.users (id, email)
      select gen_random_uuid(), 'bench-' || g || '@example.com' from generate_series(1, ${rows}) g
      returning id, email)
    insert into public.user_fly_apps (user_id, fly_app_name, status, health_status, region, docker_image,
      desired_state, monthly_cost_estimate_usd, last_health_check_at)
    select id, 'bench-' || replace(id::text, '-', ''),
           (array['active','active','active','active','active','active','active','pending','pending','held'])
             [1 + (abs(hashtext(email)) % 10)],
           (array['healthy','healthy','healthy','unhealthy','unknown'])[1 + (abs(hashtext(email || 'h')) % 5)],
           'sin', 'registry.fly.io/vyx-user-backend:latest', 'present', 7.76, now()
    from users`;
  await sql`insert into public.user_subscriptions (user_id, tier) select user_id, 'pro' from public.user_fly_apps`;
  await sql`update public.user_fly_apps set status = 'error', error_message = 'bench: simulated Fly 401'
    where abs(hashtext(user_id::text)) % 10 = 0`;
  await sql`analyze`;
  const statuses =
    await sql`select status, count(*)::int as n from public.user_fly_apps group by 1 order by 1`;
  console.log(`${rows} rows inserted: ${statuses.map((r) => `${r.status} ${r.n}`).join(", ")}`);
  const server = await startConsoleServer({
    functionsUrl: `${stack.services.gatewayUrl}/functions/v1`,
    provisionerSecret: stack.services.provisionerSecret,
    port: 0,
  });
  try {
    const record = { errors: [], requests: [] };
    const page = await browser.newPage(record);
    const paints: number[] = [];
    const fcps: number[] = [];
    const filters: number[] = [];
    for (let run = 0; run < runs; run++) {
      // A fresh document each run: a hash change alone would keep the first load's time origin.
      await page.goto("about:blank");
      await page.goto(`${server.url}/#/overview`, { waitUntil: "domcontentloaded" });
      await page.waitForSelector("[data-testid=card-total] [data-value]");
      paints.push(await page.evaluate(`performance.now()`) as number);
      fcps.push(
        await page.evaluate(
          `performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? -1`,
        ) as number,
      );
      await page.goto(`${server.url}/#/apps`, { waitUntil: "domcontentloaded" });
      await page.waitForSelector("[data-testid=app-row]");
      const started = performance.now();
      await page.select("[data-testid=filter-status]", "error");
      await page.waitForFunction(
        `(() => { const rows = [...document.querySelectorAll("[data-testid=app-row]")];
          return rows.length > 0 && rows.every((row) => row.dataset.status === "error"); })()`,
        { polling: "mutation", timeout: 30_000 },
      ).catch(async (error) => {
        console.log(await page.$eval("[data-testid=apps]", (el) => el.textContent?.slice(0, 600)));
        throw error;
      });
      filters.push(performance.now() - started);
    }
    const median = (values: number[]) =>
      Math.round([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]);
    console.log(`rows ${rows}; ${runs} runs, medians (first paint = overview figures on screen)`);
    console.log(`  first paint ${paints.map(Math.round).join(", ")} ms`);
    console.log(`  fcp         ${fcps.map(Math.round).join(", ")} ms`);
    console.log(`  filter      ${filters.map(Math.round).join(", ")} ms`);
    if (record.errors.length) console.log(`page errors: ${record.errors.join("; ")}`);
    console.log(
      `BENCH console rows=${rows} first_paint_ms=${median(paints)} fcp_ms=${median(fcps)} filter_ms=${
        median(filters)
      }`,
    );
  } finally {
    await server.close();
  }
} finally {
  await browser.close();
  await stack.stop();
}
