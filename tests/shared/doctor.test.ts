/**
 * `ops doctor`'s cron verdict: a job scheduled less than one period ago is "scheduled, not run yet (next run
 * at …)" and neither passes nor fails; one that was due and never ran, or stopped running, is "not running".
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { cronLastRun } from "../../supabase/functions/_shared/admin/doctor.ts";

const job = { schedule: "* * * * *", active: true };
const at = (iso: string) => Date.parse(iso);

Deno.test("cron.last_run: scheduled 20 s ago and never run is pending, naming the next run", () => {
  const check = cronLastRun({
    job,
    lastRun: null,
    scheduledSince: "2026-12-06T10:00:40Z",
    now: at("2026-12-06T10:01:00.500Z"),
  });
  assertEquals(check.ok, null);
  assertEquals(check.detail, "scheduled, not run yet (next run at 2026-12-06T10:02:00Z)");
});

Deno.test("cron.last_run: due and never run is 'not running', naming when it was due", () => {
  const check = cronLastRun({
    job,
    lastRun: null,
    scheduledSince: "2026-12-06T10:00:40Z",
    now: at("2026-12-06T10:03:00Z"),
  });
  assertEquals(check.ok, false);
  assert(
    check.detail.startsWith("not running: the cron job has never run (it was due at 2026-12-06T10:01:00Z)"),
  );
  const unknown = cronLastRun({ job, lastRun: null, scheduledSince: null, now: at("2026-12-06T10:03:00Z") });
  assertEquals(unknown.ok, false);
});

Deno.test("cron.last_run: a recent success passes; an old one or a failure does not", () => {
  const now = at("2026-12-06T10:05:30Z");
  const since = "2026-12-06T09:00:00Z";
  const ok = cronLastRun({
    job,
    lastRun: { status: "succeeded", start_time: "2026-12-06T10:05:00Z" },
    scheduledSince: since,
    now,
  });
  assertEquals(ok, { name: "cron.last_run", ok: true, detail: "ran 30 s ago and succeeded" });
  const stale = cronLastRun({
    job,
    lastRun: { status: "succeeded", start_time: "2026-12-06T10:00:00Z" },
    scheduledSince: since,
    now,
  });
  assertEquals(stale.ok, false);
  assert(stale.detail.startsWith("not running: the last run was 330 s ago"), stale.detail);
  assert(stale.detail.endsWith("(next run at 2026-12-06T10:06:00Z)"), stale.detail);
  const failed = cronLastRun({
    job,
    lastRun: { status: "failed", start_time: "2026-12-06T10:05:00Z", message: "boom" },
    scheduledSince: since,
    now,
  });
  assertEquals(failed, { name: "cron.last_run", ok: false, detail: "the last run failed: boom" });
});
