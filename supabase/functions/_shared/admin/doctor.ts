/**
 * The function side of `ops doctor`: checks of the chain the functions can see, each with a one-line
 * verdict that says exactly what is wrong. The CLI adds the checks only it can make (variables, reachability,
 * the secret being accepted).
 *
 * @module
 */
import { Cron } from "croner";
import type { JsonRow } from "../db/admin.ts";
import type { EngineDeps } from "../engine/context.ts";

/** One check's verdict. */
export interface DoctorCheck {
  /** Short name, e.g. `vault.project_url`. */
  name: string;
  /** Whether the check passed (null: not applicable here, e.g. skipped). */
  ok: boolean | null;
  /** What was found, or what is wrong and what to do. */
  detail: string;
}

/** A cron run counts as recent within this many milliseconds. */
const RECENT_MS = 2 * 60_000;

/** A job's first run counts as late this long after it was due (pg_cron starts jobs within seconds). */
const FIRST_RUN_GRACE_MS = 30_000;

/** pg_net requests waiting beyond this count mean its worker is not keeping up. */
const MAX_QUEUED = 100;

/** The check `name` passes with `pass` or fails with `fail`, as `ok` says. */
const verdict = (name: string, ok: boolean, pass: string, fail: string): DoctorCheck => ({
  name,
  ok,
  detail: ok ? pass : fail,
});

/** The SHA-256 of `text` as lowercase hex (how the doctor asks the database about the admin secret). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Checks of the database report of `private.ops_doctor_report()`. */
export function databaseChecks(report: JsonRow, now = Date.now()): DoctorCheck[] {
  const vault = report.vault as JsonRow;
  const cron = report.cron as JsonRow;
  const net = report.net as JsonRow;
  const checks: DoctorCheck[] = [];
  const vaultFix =
    "set it with vault.create_secret (see README Deploy); the CLI's [db.vault] skips unresolved env()";
  checks.push(
    verdict(
      "vault.project_url",
      vault.available === true && vault.project_url === true && vault.project_url_is_http === true,
      "present, an http(s) URL",
      vault.available !== true
        ? "Vault is not installed in this database"
        : vault.project_url !== true
        ? `the Vault secret project_url is missing: ${vaultFix}`
        : "the Vault secret project_url is not an http(s) URL",
    ),
    verdict(
      "vault.fly_kick_secret",
      vault.available === true && vault.fly_kick_secret === true,
      "present",
      `the Vault secret fly_kick_secret is missing: ${vaultFix}`,
    ),
    verdict(
      "vault.no_admin_secret",
      vault.available === true && vault.admin_secret_in_vault !== true &&
        vault.legacy_fly_provisioner_secret !== true,
      "the database holds no admin secret (kick and admin secrets differ)",
      vault.admin_secret_in_vault === true
        ? "a Vault secret equals PROVISIONER_SECRET: the admin secret must never be in the database; give " +
          "fly_kick_secret the KICK_SECRET value and rotate PROVISIONER_SECRET (README: One secret to two)"
        : "the legacy Vault secret fly_provisioner_secret is still there: delete it and rotate " +
          "PROVISIONER_SECRET (README: One secret to two)",
    ),
  );
  const job = cron.job as JsonRow | null;
  const lastRun = cron.last_run as JsonRow | null;
  checks.push(verdict(
    "cron.job",
    cron.available === true && job !== null && job.active === true,
    `check-fly-apps-health scheduled (${job?.schedule})`,
    cron.available !== true
      ? "pg_cron is not installed in this database"
      : job === null
      ? "no pg_cron job check-fly-apps-health: apply migration 20261206000600_cron.sql"
      : "the pg_cron job check-fly-apps-health is inactive",
  ));
  checks.push(cronLastRun({ job, lastRun, scheduledSince: cron.scheduled_since, now }));
  const latest = net.latest as JsonRow | null;
  const status = Number(latest?.status_code);
  checks.push(verdict(
    "net.responses",
    net.available === true && Number(net.ok_last_2m) > 0 &&
      (latest === null || (status >= 200 && status < 300)),
    `${net.ok_last_2m} 2xx answers in the last 2 minutes`,
    net.available !== true
      ? "pg_net is not installed in this database"
      : status === 401
      ? "the functions answered 401: the Vault secret fly_kick_secret differs from KICK_SECRET"
      : latest?.timed_out
      ? "the last pg_net request timed out: check the Vault project_url and that the functions are deployed"
      : latest?.error
      ? `the last pg_net request failed: ${latest.error}`
      : latest
      ? `the last function answer was HTTP ${latest.status_code}`
      : "no function answer in the last 2 minutes (net._http_response)",
  ));
  checks.push(verdict(
    "net.queue",
    net.available === true && Number(net.queued) <= MAX_QUEUED,
    `${net.queued} request(s) waiting`,
    `${net.queued} pg_net requests waiting: its background worker is not sending (restart it or check pg_net)`,
  ));
  return checks;
}

/** What {@link cronLastRun} judges: the report's cron job, its last run and since when it is scheduled. */
export interface CronRunFacts {
  job: JsonRow | null;
  lastRun: JsonRow | null;
  /** The later of the server start and the job's scheduling (ISO time), or null when unknown. */
  scheduledSince: unknown;
  now: number;
}

/** `2026-12-06T10:01:00Z`: a time as the doctor shows it. */
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * `cron.last_run`: ran recently and succeeded (ok); scheduled and not due yet, "scheduled, not run yet (next
 * run at …)" (neither pass nor fail); or not running: never ran although it was due, failed, or stopped.
 */
export function cronLastRun({ job, lastRun, scheduledSince, now }: CronRunFacts): DoctorCheck {
  const name = "cron.last_run";
  const schedule = typeof job?.schedule === "string"
    ? new Cron(job.schedule, { timezone: "UTC", paused: true })
    : null;
  const nextRun = (from: number) => schedule?.nextRun(new Date(from))?.getTime();
  const next = nextRun(now);
  const nextText = next === undefined ? "" : ` (next run at ${isoSeconds(next)})`;
  if (!lastRun) {
    const since = typeof scheduledSince === "string" ? Date.parse(scheduledSince) : NaN;
    const due = Number.isNaN(since) ? undefined : nextRun(since);
    if (due !== undefined && now <= due + FIRST_RUN_GRACE_MS) {
      return { name, ok: null, detail: `scheduled, not run yet${nextText}` };
    }
    const dueText = due === undefined ? "" : ` (it was due at ${isoSeconds(due)})`;
    return {
      name,
      ok: false,
      detail:
        `not running: the cron job has never run${dueText}; is pg_cron's scheduler running in this database?`,
    };
  }
  const lastStart = Date.parse(String(lastRun.start_time));
  const ago = Math.round((now - lastStart) / 1000);
  if (lastRun.status !== "succeeded") {
    return { name, ok: false, detail: `the last run ${lastRun.status}: ${lastRun.message ?? "no message"}` };
  }
  if (now - lastStart > RECENT_MS) {
    return {
      name,
      ok: false,
      detail: `not running: the last run was ${ago} s ago (more than 2 minutes)${nextText}`,
    };
  }
  return { name, ok: true, detail: `ran ${ago} s ago and succeeded` };
}

/** Checks against Fly: the token is valid for the org; the image reference (not checkable through the API). */
export async function flyChecks(deps: EngineDeps): Promise<DoctorCheck[]> {
  const org = deps.config.fly.orgSlug;
  let token: DoctorCheck;
  try {
    const apps = await deps.fly.apps.list(org);
    token = { name: "fly.token", ok: true, detail: `valid for org ${org} (${apps.length} apps)` };
  } catch (error) {
    token = {
      name: "fly.token",
      ok: false,
      detail: `listing the apps of org ${org} failed: ${(error as Error).message}`,
    };
  }
  return [token, {
    name: "fly.image",
    ok: null,
    detail:
      `${deps.config.fly.appImage}: not checkable through the Machines API (bad images show as provision failures)`,
  }];
}
