/**
 * Alert delivery: the `alert_raised` event is written by the database with the failure; this POSTs the same
 * facts to the optional `ALERT_WEBHOOK_URL`. Best effort: a webhook failure is logged, never fatal.
 *
 * @module
 */
import type { EngineDeps } from "./context.ts";

/** What an alert says (no secret values: the message comes from classified failures). */
export interface Alert {
  user_id: string;
  fly_app_name: string | null;
  reason: "consecutive_failures" | "permanent_failure";
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
}

/** Timeout of the webhook POST. */
const WEBHOOK_TIMEOUT_MS = 5_000;

/** POSTs the alert to the configured webhook, if any. */
export async function sendAlert(
  deps: Pick<EngineDeps, "config" | "log">,
  alert: Alert | RolloutAlert,
): Promise<void> {
  const url = deps.config.alert.webhookUrl;
  deps.log.warn("alert raised", { ...alert });
  if (!url) return;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        type: "rollout_id" in alert ? "fly_rollout_alert" : "fly_user_app_alert",
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
