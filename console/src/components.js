/**
 * Small building blocks shared by the screens: status badges, figure cards, the loading / empty / error
 * states, a confirmation dialog and a toast line for action results.
 *
 * @module
 */
import { html, useEffect, useRef, useState } from "./html.js";

/** Badge colour class of a status or health value. */
function tone(value) {
  if (["active", "healthy", "completed", "ok", "converged", "passing"].includes(value)) return "good";
  if (["error", "failed", "unhealthy", "critical", "aborted", "halted", "terminal"].includes(value)) {
    return "bad";
  }
  if (["held", "paused", "suspended", "warning", "drift"].includes(value)) return "warn";
  return "neutral";
}

/** A coloured badge for a status, health or state value. */
export function Badge({ value }) {
  return html`<span class=${`badge ${tone(value)}`}>${value ?? "—"}</span>`;
}

/** One figure card of the overview. */
export function Card({ label, value, hint, testid, tone: cardTone }) {
  return html`<div class=${`card ${cardTone ?? ""}`} data-testid=${testid}>
    <div class="card-label">${label}</div>
    <div class="card-value" data-value>${value}</div>
    ${hint ? html`<div class="card-hint">${hint}</div>` : null}
  </div>`;
}

/**
 * What a panel shows before or instead of its data: loading, an error (with the last good data kept by the
 * caller), or an empty message.
 */
export function StateBox({ loading, error, empty, emptyText = "Nothing here yet." }) {
  if (error) return html`<p class="state error" role="alert">Could not load: ${error.message}</p>`;
  if (loading) return html`<p class="state" aria-busy="true">Loading…</p>`;
  if (empty) return html`<p class="state empty">${emptyText}</p>`;
  return null;
}

/**
 * A modal confirmation for actions that stop a machine or change the fleet. Escape or Cancel closes it;
 * focus starts on Cancel so Enter never confirms by accident. With `reasonLabel` it asks for a reason first
 * (confirm stays disabled until one is typed) and calls `onConfirm(reason)`.
 */
export function ConfirmDialog({ title, body, confirmLabel, reasonLabel, onConfirm, onCancel }) {
  const cancel = useRef(null);
  const [reason, setReason] = useState("");
  useEffect(() => {
    cancel.current?.focus();
    const onKey = (event) => {
      if (event.key === "Escape") onCancel();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  const missingReason = Boolean(reasonLabel) && reason.trim() === "";
  return html`
    <div class="modal-backdrop">
      <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title" data-testid="confirm">
        <h2 id="confirm-title">${title}</h2>
        <p>${body}</p>
        ${reasonLabel
          ? html`<label class="reason">${reasonLabel}
              <input data-testid="confirm-reason" maxlength="500" required value=${reason}
                onInput=${(event) => setReason(event.currentTarget.value)} /></label>`
          : null}
        <div class="modal-actions">
          <button ref=${cancel} onClick=${onCancel}>Cancel</button>
          <button class="danger" data-testid="confirm-ok" disabled=${missingReason}
            onClick=${() => onConfirm(reason.trim() || undefined)}>${confirmLabel}</button>
        </div>
      </div>
    </div>
  `;
}

/** The result line of the last action (polite live region). */
export function Toast({ message }) {
  if (!message) return null;
  return html`<div class=${`toast ${message.error ? "bad" : "good"}`} role="status" data-testid="toast">
    ${message.text}
  </div>`;
}
