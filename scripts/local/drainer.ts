/**
 * The local platform's tier-outbox drainer: calls `private.drain_tier_outbox()` once a second, as pg_cron
 * does on hosted Supabase (pg_cron >= 1.5 runs `'1 seconds'` jobs; Debian's pg_cron 1.4 cannot, so the
 * migration schedules it every minute there and the local stack runs this loop as well). Runs never
 * overlap; a run that reports `more` (a full batch, or a bulk marker not worked off yet) is followed by the
 * next one at once; `stop()` waits for the run in flight.
 *
 * @module
 */
import postgres from "postgres";

/** What `private.drain_tier_outbox()` returns. */
export interface DrainReport {
  /** Outbox rows taken. */
  drained: number;
  /** Users whose desired state was recorded (and named in the kick). */
  users: number;
  /** Whether the batch's kick was queued. */
  kicked: boolean;
  /** pg_net request id of the kick. */
  request_id?: number;
  /** Why nothing was kicked (missing Vault secret, pg_net error). */
  problem?: string;
  /** Another drainer held the lock; this run did nothing. */
  busy?: boolean;
  /** Age of the oldest change still queued, in seconds. */
  oldest_age_s?: number;
  /** Users taken from the bulk diff (present while a bulk marker was queued). */
  bulk_users?: number;
  /** Another run should follow at once: the batch was full, or a bulk marker is not worked off yet. */
  more: boolean;
}

/** Options for {@link startTierDrainer}. */
export interface TierDrainerOptions {
  /** Pause between runs in milliseconds (default 1000). */
  intervalMs?: number;
  /** Receives every report (default: logs a problem when it first appears). */
  onReport?: (report: DrainReport) => void;
  /** Where errors go (the loop keeps running). */
  onError?: (error: unknown) => void;
}

/** A running drainer. */
export interface TierDrainer {
  /** Runs one drain now (after the one in flight) and resolves to its report. */
  drainNow(): Promise<DrainReport>;
  /** Stops the loop and waits for the run in flight. */
  stop(): Promise<void>;
}

/** Logs a report's problem once, when it first appears. */
function problemLogger(): (report: DrainReport) => void {
  let last: string | undefined;
  return (report) => {
    if (report.problem && report.problem !== last) console.warn(`tier drainer: ${report.problem}`);
    last = report.problem;
  };
}

/** Starts draining the database at `dbUrl` (the database owner's URL) every `intervalMs`. */
export function startTierDrainer(dbUrl: string, options: TierDrainerOptions = {}): TierDrainer {
  const intervalMs = options.intervalMs ?? 1000;
  const onReport = options.onReport ?? problemLogger();
  const onError = options.onError ?? ((error) => console.error("tier drainer:", error));
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  let running = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<unknown> = Promise.resolve();

  const drain = async (): Promise<DrainReport> => {
    const [{ report }] = await sql<{ report: DrainReport }[]>`select private.drain_tier_outbox() as report`;
    onReport(report);
    return report;
  };
  /** Serialises runs: one drain at a time from this process. */
  const drainNow = (): Promise<DrainReport> => {
    const next = inFlight.catch(() => {}).then(drain);
    inFlight = next;
    return next;
  };
  const tick = async () => {
    const report = await drainNow().catch(onError);
    const more = report?.more === true;
    if (running) timer = setTimeout(tick, more ? 0 : intervalMs);
  };
  timer = setTimeout(tick, 0);

  return {
    drainNow,
    async stop() {
      running = false;
      clearTimeout(timer);
      await inFlight.catch(() => {});
      await sql.end({ timeout: 2 });
    },
  };
}
