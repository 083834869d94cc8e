/**
 * The user drawer: one user's row, its health as recorded next to the machine as Fly reports it now
 * (`?live=true`), each with its time and which is newer, the ops override (set or clear it), drift, costs, the
 * actions, and the full event log, paged newest first with metadata and error details readable.
 *
 * @module
 */
import { actionsFor, runAction } from "./actions.js";
import { calls } from "./api.ts";
import { Badge, ConfirmDialog, StateBox, Toast } from "./components.js";
import { ago, fullImage, shortImage, stamp, usd } from "./format.js";
import { html, useEffect, useRef, useState } from "./html.js";
import { usePoll } from "./poll.js";

/** Events per page. */
const EVENTS_PAGE = 50;

/** Key/value lines of an object. */
function Fields({ fields }) {
  return html`<dl class="fields">${
    Object.entries(fields).map(([key, value]) =>
      html`
        <dt>${key}</dt>
        <dd>${value ?? "—"}</dd>
      `
    )
  }</dl>`;
}

/** The override's fields in a few words, or "". */
function overrideText(override) {
  if (!override) return "";
  return ["cpu_kind", "cpus", "memory_mb", "region", "image"].filter((k) => override[k] !== undefined)
    .map((k) => `${k}=${override[k]}`).join(" ");
}

/**
 * The user's ops override (what support pinned over the plan: size, region, image), who set it and why, and
 * a form to set or clear it. Bad values come back as the API's 400, shown in the toast; nothing is written.
 */
function Override({ userId, override, onDone }) {
  const [form, setForm] = useState({
    cpu_kind: "",
    cpus: "",
    memory_mb: "",
    region: "",
    image: "",
    reason: "",
  });
  const [busy, setBusy] = useState(false);
  const field = (name) => (event) => setForm({ ...form, [name]: event.target.value });
  const run = async (call) => {
    setBusy(true);
    try {
      const body = await call();
      onDone({ text: body.override ? `override set: ${overrideText(body.override)}` : "override cleared" });
    } catch (failure) {
      onDone({ text: failure.message, error: true });
    } finally {
      setBusy(false);
    }
  };
  const apply = () => {
    const fields = {};
    for (const key of ["cpu_kind", "region", "image"]) if (form[key]) fields[key] = form[key];
    for (const key of ["cpus", "memory_mb"]) if (form[key]) fields[key] = Number(form[key]);
    return run(() => calls.setOverride(userId, { ...fields, reason: form.reason || "console" }));
  };
  return html`
    <div data-testid="override">
      <p>${override
        ? `${overrideText(override)} — by ${override.actor} ${ago(override.updated_at)}${
          override.reason ? `: ${override.reason}` : ""
        }`
        : "None: the user runs their plan."}</p>
      <div class="override-form">
        <select aria-label="CPU kind" value=${form.cpu_kind} onChange=${field("cpu_kind")}>
          <option value="">cpu kind</option><option value="shared">shared</option>
          <option value="performance">performance</option>
        </select>
        <input aria-label="CPUs" placeholder="cpus" inputmode="numeric" value=${form.cpus} onInput=${field(
          "cpus",
        )} />
        <input aria-label="Memory MB" placeholder="memory MB" inputmode="numeric" value=${form.memory_mb}
          onInput=${field("memory_mb")} />
        <input aria-label="Region" placeholder="region" value=${form.region} onInput=${field("region")} />
        <input aria-label="Image" placeholder="image" value=${form.image} onInput=${field("image")} />
        <input aria-label="Reason" placeholder="reason" value=${form.reason} onInput=${field("reason")} />
        <button data-action="override" disabled=${busy} onClick=${apply}>Set override</button>
        ${override
          ? html`<button data-action="clear-override" disabled=${busy} onClick=${() =>
            run(() => calls.clearOverride(userId, form.reason || "console"))}>Clear</button>`
          : null}
      </div>
    </div>
  `;
}

/** The newest `updated_at` of the live machines (ISO), or null. */
function liveChangedAt(live) {
  const times = (live?.machines ?? []).map((m) => m.updated_at).filter(Boolean).sort();
  return times.at(-1) ?? null;
}

/**
 * The health as recorded (by the last check or observation) next to the machine as Fly reports it now,
 * each with its time, and which is newer: a machine that changed after the record makes the record stale.
 */
function Health({ app, live }) {
  const recordedAt = app.last_health_check_at ?? app.last_observed_at ?? null;
  const changedAt = liveChangedAt(live);
  const newer = !changedAt || !recordedAt
    ? (changedAt ? "live" : "recorded")
    : new Date(changedAt) > new Date(recordedAt)
    ? "live"
    : "recorded";
  const when = (iso) => iso ? html`<span title=${iso}>${stamp(iso)} (${ago(iso)})</span>` : "never";
  return html`
    <dl class="fields" data-testid="health">
      <dt>recorded</dt>
      <dd data-testid="health-recorded" data-at=${recordedAt ?? ""}><${Badge} value=${app.health_status} />
          machine ${app.last_machine_state ?? "—"}${app.idle_since
            ? html`
              · <span data-testid="drawer-idle-since">idle since ${when(app.idle_since)}</span>
            `
            : null} · checked ${when(recordedAt)}</dd>
      <dt>Fly now</dt>
      <dd data-testid="health-live" data-at=${changedAt ?? ""}>${live?.machines?.length
        ? html`${
          live.machines.map((m) =>
            html`
              <${Badge} value=${m.state} />
            `
          )
        } · machine changed ${when(changedAt)}`
        : "no machine"}</dd>
      <dt>newer</dt>
      <dd data-testid="health-newer" data-newer=${newer}>${newer === "live"
        ? "Fly's view: the machine changed after the recorded check (the next sweep records it)"
        : "the recorded check: it saw the machine after its last change"}</dd>
    </dl>
  `;
}

/** The live machines. */
function Machines({ live }) {
  if (!live) return html`<p class="state">Loading…</p>`;
  if (live.error) return html`<p class="state error">Fly did not answer: ${live.error}</p>`;
  if (!live.machines?.length) return html`<p class="state empty">${live.note ?? "No machine."}</p>`;
  return html`<ul class="plain machines" data-testid="machines">${
    live.machines.map((m) =>
      html`<li key=${m.id}><code>${m.id}</code> <${Badge} value=${m.state} /> ${m.region} ·
        <code title=${fullImage(m.image, m.image_digest)}>${shortImage(m.image, m.image_digest)}</code>
        <span class="muted" title=${m.updated_at ?? ""}>· changed ${ago(m.updated_at)}</span>
        ${
        m.checks?.length
          ? html`
            · checks: ${m.checks.map((c) => `${c.name} ${c.status}`).join(", ")}
          `
          : null
      }</li>`
    )
  }</ul>`;
}

/** The event log with "older" paging. */
function Events({ userId }) {
  const first = usePoll(
    () => calls.userEvents(userId, { limit: EVENTS_PAGE }),
    [userId],
  );
  const [older, setOlder] = useState({ events: [], next: undefined, loading: false, error: null });
  useEffect(() => setOlder({ events: [], next: undefined, loading: false, error: null }), [userId]);
  if (!first.data) return html`<${StateBox} loading=${first.loading} error=${first.error} />`;
  const seen = new Set(first.data.events.map((e) => e.seq));
  const events = [...first.data.events, ...older.events.filter((e) => !seen.has(e.seq))];
  const next = older.next === undefined ? first.data.next_before : older.next;
  const loadOlder = async () => {
    setOlder({ ...older, loading: true });
    try {
      const page = await calls.userEvents(userId, { limit: EVENTS_PAGE, before: next });
      setOlder({
        events: [...older.events, ...page.events],
        next: page.next_before,
        loading: false,
        error: null,
      });
    } catch (error) {
      setOlder({ ...older, loading: false, error });
    }
  };
  if (events.length === 0) return html`<p class="state empty">No events for this user.</p>`;
  return html`<ol class="events" data-testid="events">${
    events.map((event) =>
      html`<li key=${event.seq} data-testid="event" data-type=${event.event_type}>
        <div class="event-head"><${Badge} value=${event.status} /> <strong>${event.event_type}</strong>
          <span class="muted" title=${event.created_at}>${stamp(event.created_at)}</span></div>
        ${event.error_details ? html`<pre class="error-details">${event.error_details}</pre>` : null}
        ${
        event.metadata && Object.keys(event.metadata).length
          ? html`
            <details>
              <summary>metadata</summary>
              <pre>${JSON.stringify(event.metadata, null, 2)}</pre>
            </details>
          `
          : null
      }
      </li>`
    )
  }</ol>
  ${older.error ? html`<p class="state error">${older.error.message}</p>` : null}
  ${next ? html`<button disabled=${older.loading} onClick=${loadOlder}>Older events</button>` : null}`;
}

/** The drawer for `userId`; `onClose` goes back to the table. */
export function Drawer({ userId, onClose }) {
  const detail = usePoll(
    () => calls.app(userId),
    [userId],
  );
  const [pending, setPending] = useState(null);
  const [toast, setToast] = useState(null);
  const [busy, setBusy] = useState(false);
  const panel = useRef(null);
  useEffect(() => {
    panel.current?.focus();
    const onKey = (event) => {
      if (event.key === "Escape" && !document.querySelector("[data-testid=confirm]")) onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [userId]);

  const perform = async (name, reason) => {
    setPending(null);
    setBusy(true);
    try {
      setToast({ text: await runAction(name, userId, reason) });
    } catch (failure) {
      setToast({ text: failure.message, error: true });
    } finally {
      setBusy(false);
      detail.reload();
    }
  };

  const data = detail.data;
  const app = data?.app;
  const drift = data?.drift ?? {};
  return html`
    <div class="drawer-backdrop" onClick=${(e) => e.target === e.currentTarget && onClose()}>
      <aside class="drawer" role="dialog" aria-modal="true" aria-label="User detail" tabindex="-1" ref=${panel}
        data-testid="drawer">
          <header class="drawer-head">
            <h2>${app?.email ?? userId}</h2>
            <button onClick=${onClose} aria-label="Close">✕</button>
          </header>
          ${!data ? html`<${StateBox} loading=${detail.loading} error=${detail.error} />` : html`
            ${detail.error ? html`<${StateBox} error=${detail.error} />` : null}
            <${Toast} message=${toast} />
            <div class="actions">${app
              ? actionsFor({ ...app, email: app.email ?? userId }).map((action) =>
                html`<button data-action=${action.name} disabled=${busy} onClick=${() =>
                  action.confirm ? setPending(action) : perform(action.name)}>${action.label}</button>`
              )
              : null}</div>
            <section>
              <h3>App</h3>
              <${Fields} fields=${{
                user: userId,
                tier: data.tier,
                status: app ? html`<${Badge} value=${app.status} />` : "no app",
                app: app?.fly_app_name,
                region: app?.region,
                image: app?.docker_image,
                digest: app?.image_digest,
                machine: app?.machine_id,
                hold: data.hold
                  ? `${data.hold.held_by} ${ago(data.hold.held_at)}${
                    data.hold.reason ? `: ${data.hold.reason}` : ""
                  }`
                  : "not held",
                error: app?.error_message,
              }} />
            </section>
            ${app
              ? html`
                <section>
                  <h3>Health</h3>
                  <${Health} app=${app} live=${data.live} />
                </section>
              `
              : null}
            <section>
              <h3>Machine now</h3>
              <${Machines} live=${data.live} />
            </section>
            <section>
              <h3>Override</h3>
              <${Override} userId=${userId} override=${data.override} onDone=${(message) => {
                setToast(message);
                detail.reload();
              }} />
            </section>
            <section><h3>Drift</h3>${Object.keys(drift).length
              ? html`<pre data-testid="drift">${JSON.stringify(drift, null, 2)}</pre>`
              : html`<p class="state empty">No drift recorded.</p>`}</section>
            <section>
              <h3>Costs</h3>
              <${Fields} fields=${{
                "estimated monthly": usd(data.costs?.estimated_monthly_usd),
                "plan monthly": usd(data.costs?.plan_monthly_usd),
                "days with runtime": String(data.costs?.running_days?.length ?? 0),
              }} />
            </section>
            <section>
              <h3>Events</h3>
              <${Events} userId=${userId} />
            </section>
          `}
          ${pending
            ? html`
              <${ConfirmDialog} title=${`${pending.label}?`} body=${pending.confirm} confirmLabel=${pending
                .label} reasonLabel=${pending.reason}
                onCancel=${() => setPending(null)} onConfirm=${(reason) => perform(pending.name, reason)} />
            `
            : null}
        </aside>
    </div>
  `;
}
