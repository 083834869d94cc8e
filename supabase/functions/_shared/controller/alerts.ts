/**
 * Alert delivery: the `alert_raised` event is recorded with the outcome that raised it; this POSTs the same
 * facts to the optional `ALERT_WEBHOOK_URL` (per-user failures, halted rollouts, a stale tier outbox). Best
 * effort: a webhook failure is logged, never fatal.
 *
 * @module
 */
import type { EngineDeps } from "../engine/context.ts";

/** What an alert says (no secret values: the message comes from classified failures). */
export interface Alert {
  user_id: string;
  fly_app_name: string | null;
  /** `host_recovered`: the user was moved off a lost host onto a snapshot's data (see host_recovery.ts). */
  reason: "consecutive_failures" | "permanent_failure" | "host_recovered";
  error: string;
  retry_count: number;
  desired_state: string;
}

/** A fleet rollout that stopped on failures (see rollout.ts). */
export interface RolloutAlert {
  rollout_id: string;
  reason: "rollout_halted";
  direction: "forward" | "rollback";
  error: string;
  failed: number;
  total: number;
  /** A failed bake: the machines it saw failing. */
  machines?: { user_id: string; fly_app_name: string | null; machine_id: string | null; why: string }[];
}

/** Tier changes waiting in the outbox for too long: the drainer (pg_cron every second) is not running. */
export interface OutboxAlert {
  reason: "outbox_stale";
  oldest_age_s: number;
  threshold_s: number;
}

/** The webhook payload's `type` of each kind of alert. */
function alertType(alert: Alert | RolloutAlert | OutboxAlert): string {
  if ("rollout_id" in alert) return "fly_rollout_alert";
  if (alert.reason === "outbox_stale") return "fly_outbox_alert";
  return "fly_user_app_alert";
}

/** Timeout of the webhook POST. */
const WEBHOOK_TIMEOUT_MS = 5_000;

/** POSTs the alert to the configured webhook, if any. */
export async function sendAlert(
  deps: Pick<EngineDeps, "config" | "log">,
  alert: Alert | RolloutAlert | OutboxAlert,
): Promise<void> {
  const url = deps.config.alert.webhookUrl;
  deps.log.warn("alert raised", { ...alert });
  if (!url) return;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        type: alertType(alert),
        raised_at: new Date().toISOString(),
        ...alert,
      }),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (!response.ok) deps.log.warn("alert webhook answered an error", { status: response.status });
  } catch (error) {
    deps.log.warn("alert webhook failed", { error });
  }
}
