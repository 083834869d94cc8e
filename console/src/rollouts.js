/**
 * The rollouts screen: which version runs where (machines per tier and image digest, the active rollout's
 * target marked), start a rollout (image, tier, canary, batch, stages, bake, max failures), follow its
 * progress live (one line per batch, a line per target in its gate, failed or skipped, what it waits for),
 * and pause, resume, abort or roll it back. Built on `GET /versions`, `GET/POST /rollouts`,
 * `GET /rollouts/:id` and `POST /rollouts/:id/{pause|resume|abort|rollback}`; an API without those routes
 * (404) gets a clear "not available" state instead.
 *
 * @module
 */
import { ApiError, calls } from "./api.ts";
import { Badge, ConfirmDialog, StateBox, Toast } from "./components.js";
import { ago, shortImage } from "./format.js";
import { html, useState } from "./html.js";
import { usePoll } from "./poll.js";
import { ROLLOUT_TARGET_STATES } from "../../supabase/functions/_shared/vocabulary.ts";
import { imageTag } from "../../supabase/functions/_shared/image_ref.ts";

/** Controls offered per rollout state; `confirm` for the ones that change machines back or stop work. */
const CONTROLS = [
  { name: "pause", label: "Pause", states: ["running"] },
  { name: "resume", label: "Resume", states: ["paused", "halted"] },
  {
    name: "abort",
    label: "Abort",
    states: ["running", "paused", "pending", "halted"],
    confirm: "Abort stops the rollout; updated machines keep the new image.",
  },
  {
    name: "rollback",
    label: "Roll back",
    states: ["pending", "running", "paused", "halted", "completed", "aborted"],
    confirm: "Roll back puts every updated machine back on its previous image.",
  },
];

/** What a rollout moves machines to: `{image?, digest?, region?, cpu_kind?, cpus?, memory_mb?}`. */
function targetText(target = {}) {
  const plan = ["region", "cpu_kind", "cpus", "memory_mb"].filter((key) => target[key] !== undefined)
    .map((key) => `${key} ${target[key]}`);
  return [target.image ? shortImage(target.image) : null, ...plan].filter(Boolean).join(" · ") || "—";
}

/** A rollout target's states (`GET /rollouts/:id` counts them per batch) and their column labels. */
const TARGET_STATES = ROLLOUT_TARGET_STATES.map((state) => [
  state,
  state[0].toUpperCase() + state.slice(1).replaceAll("_", " "),
]);

/** A progress bar with counts of a rollout (a rollback counts the machines put back). */
export function RolloutProgress({ rollout }) {
  const total = Math.max(rollout.total ?? 0, 0);
  const rollingBack = rollout.direction === "rollback";
  const done = (rollingBack ? rollout.rolled_back : rollout.updated) ?? 0;
  const percent = total ? Math.round((done / total) * 100) : 0;
  return html`
    <div class="rollout-progress" data-testid="rollout-progress" data-id=${rollout.id} data-state=${rollout
      .state}>
      <div><${Badge} value=${rollout.state} /> <code>${targetText(rollout.target)}</code>
          ${rollout.image_digest
            ? html`
              <code class="muted digest" title=${rollout.image_digest}>${rollout.image_digest.slice(
                0,
                19,
              )}</code>
            `
            : null}
          ${rollout.tier
            ? html`
              · tier ${rollout.tier}
            `
            : null}</div>
      <progress max=${total || 1} value=${done} aria-label="Rollout progress">${percent}%</progress>
      <div class="muted">${done}/${total} ${rollingBack ? "rolled back" : "updated"} · ${rollout.healthy ??
        0} healthy · ${rollout.failed ?? 0} failed${rollout.skipped ? ` · ${rollout.skipped} skipped` : ""}
          ${rollout.error
            ? html`
              · <span class="bad-text">${rollout.error}</span>
            `
            : null}</div>
    </div>
  `;
}

/** The start form. */
function StartForm({ onStart, busy }) {
  // Empty numbers are left out of the request: the API's defaults apply (shown as the placeholders).
  const [form, setForm] = useState({
    image: "",
    tier: "",
    canary: "",
    batch: "",
    max_failures: "",
    stages: "",
    bake_s: "",
    reason: "",
  });
  const set = (key) => (event) => setForm({ ...form, [key]: event.currentTarget.value });
  const submit = (event) => {
    event.preventDefault();
    const number = (value) => (value === "" ? undefined : Number(value));
    onStart({
      image: form.image.trim(),
      tier: form.tier || undefined,
      canary: number(form.canary),
      batch: number(form.batch),
      max_failures: number(form.max_failures),
      stages: form.stages.trim() ? form.stages.split(",").map((p) => Number(p.trim())) : undefined,
      bake_s: number(form.bake_s),
      reason: form.reason || undefined,
    });
  };
  return html`
    <form class="start-form" onSubmit=${submit} data-testid="rollout-form">
      <label>Image <input required data-testid="rollout-image" value=${form.image} onInput=${set("image")}
          placeholder="registry.fly.io/app:tag" /></label>
      <label>Tier <input size="6" value=${form.tier} onInput=${set("tier")} placeholder="all" /></label>
      <label>Canary <input data-testid="rollout-canary" type="number" min="0" size="3" placeholder="1" value=${form
        .canary} onInput=${set(
          "canary",
        )} /></label>
      <label>Batch <input data-testid="rollout-batch" type="number" min="1" size="3"
          placeholder="⅓ fleet" title="empty: a third of the machines at a time" value=${form
            .batch} onInput=${set(
              "batch",
            )} /></label>
      <label>Max failures <input data-testid="rollout-max-failures" type="number" min="0" size="3"
          placeholder="0" value=${form.max_failures} onInput=${set(
            "max_failures",
          )} /></label>
      <label>Stages <input data-testid="rollout-stages" size="10" placeholder="100" title="percentages of the users, e.g. 1,10,50,100"
          value=${form.stages} onInput=${set("stages")} /></label>
      <label>Bake s <input data-testid="rollout-bake" type="number" min="0" size="4" placeholder="0"
          value=${form.bake_s} onInput=${set("bake_s")} /></label>
      <label>Reason <input value=${form.reason} onInput=${set("reason")} /></label>
      <button type="submit" data-testid="rollout-start" disabled=${busy}>Start rollout</button>
    </form>
  `;
}

/** What a running rollout waits for, in one line (as `ops rollout status` says it). */
function waitingText(data) {
  if (data.rollout?.state !== "running") return null;
  if (data.bake) return `Waiting: bake of batch ${data.bake.batch}, ${data.bake.seconds_left} s left`;
  const inGate = (data.targets ?? []).filter((t) => (t.label ?? "").includes("gate ("));
  if (inGate.length === 0) return "Waiting: the next driver run";
  const left = Math.max(...inGate.map((t) => t.gate_seconds_left ?? 0));
  return `Waiting: ${inGate.length} health gate(s), at most ${left} s left`;
}

/** One rollout's batches, targets worth a line, and events (events come oldest first; shown newest first). */
function RolloutDetail({ id }) {
  const { data, error, loading } = usePoll(() => calls.rollout(id), [id]);
  if (!data) return html`<${StateBox} loading=${loading} error=${error} />`;
  const waiting = waitingText(data);
  return html`<div data-testid="rollout-detail" data-state=${data.rollout?.state}>
    ${waiting ? html`<p data-testid="rollout-waiting"><strong>${waiting}</strong></p>` : null}
    ${
    data.lines?.length
      ? html`<ul class="plain" data-testid="rollout-lines">${
        data.lines.map((line, index) => {
          const batch = data.batches[index]?.batch;
          const targets = (data.targets ?? []).filter((t) => t.batch === batch);
          return html`<li key=${index}>${line}${
            targets.length
              ? html`<ul>${
                targets.map((t) =>
                  html`
                    <li key=${t.user_id} data-testid="rollout-target"
                      data-user=${t.user_id}><code>${t.fly_app_name ?? t.user_id}</code> ${t.label}</li>
                  `
                )
              }</ul>`
              : null
          }</li>`;
        })
      }</ul>`
      : null
  }
    <h3>Batches</h3>
    ${
    data.batches?.length
      ? html`
        <table class="compact">
          <thead>
            <tr>
              <th>Batch</th>
              <th>Stage</th>
              ${TARGET_STATES.map(([, label]) => html`<th key=${label}>${label}</th>`)}
            </tr>
          </thead>
          <tbody>${data.batches.map((b) =>
            html`
              <tr key=${b.batch} data-batch=${b.batch}>
                <td>${b.batch === 0 ? "canary" : b.batch}</td>
                <td>${b.stage ?? ""}</td>
                ${TARGET_STATES.map(([state]) => html`<td key=${state}>${b[state] ?? 0}</td>`)}
              </tr>
            `
          )}</tbody>
        </table>
      `
      : html`<p class="state empty">No batches yet.</p>`
  }
    <h3>Events</h3>
    ${
    data.events?.length
      ? html`<ol class="events">${
        data.events.slice(-30).reverse().map((e) =>
          html`<li key=${e.seq}><strong>${e.event_type}</strong> <span class="muted">${
            ago(e.created_at)
          }</span></li>`
        )
      }</ol>`
      : html`<p class="state empty">No events yet.</p>`
  }
  </div>`;
}

/** The tag a version goes by: its own reference's, or that of the rollout that pinned its digest. */
function versionTag(version) {
  return [version.image, version.rollout_image].map((image) => image && imageTag(image)).find(Boolean) ?? "—";
}

/** Machines per tier and image digest as bars; the active rollout's target marked. */
export function VersionsChart() {
  const { data, error, loading } = usePoll(() => calls.versions(), []);
  if (!data) return html`<${StateBox} loading=${loading} error=${error} />`;
  const max = Math.max(1, ...data.versions.map((v) => v.machines));
  const target = data.rollout;
  const isTarget = (v) =>
    target && ((target.digest && v.digest === target.digest) || (!target.digest && v.image === target.image));
  if (data.versions.length === 0) return html`<p class="state empty">No machines yet.</p>`;
  return html`
    <table class="compact versions" data-testid="versions-chart">
      <thead>
        <tr>
          <th>Tier</th>
          <th>Tag</th>
          <th>Digest</th>
          <th>Machines</th>
          <th></th>
        </tr>
      </thead>
      <tbody>${data.versions.map((v) =>
        html`
          <tr key=${`${v.tier}:${v.digest}`} data-tier=${v.tier} data-digest=${v.digest ?? ""}
            class=${isTarget(v) ? "selected" : ""}>
            <td>${v.tier}</td>
            <td>${versionTag(v)}</td>
            <td><code class="muted" title=${v.digest ?? ""}>${v.digest
              ? v.digest.slice(0, 19)
              : "—"}</code></td>
            <td><progress max=${max} value=${v.machines} aria-label="Machines"></progress> ${v.machines}
                    <span class="muted">(${v.running} started)</span></td>
            <td>${isTarget(v) ? html`<${Badge} value=${`rollout ${target.state}`} />` : null}</td>
          </tr>
        `
      )}</tbody>
    </table>
  `;
}

/** The rollouts screen. */
export function Rollouts({ features }) {
  const list = usePoll(async () => {
    if (features.rollouts === false) return { unavailable: true };
    try {
      return await calls.rollouts();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return { unavailable: true };
      throw error;
    }
  }, [features.rollouts]);
  const [selected, setSelected] = useState(null);
  const [pending, setPending] = useState(null);
  const [toast, setToast] = useState(null);
  const [busy, setBusy] = useState(false);

  const perform = async (run) => {
    setPending(null);
    setBusy(true);
    try {
      setToast({ text: await run() });
    } catch (failure) {
      setToast({ text: failure.message, error: true });
    } finally {
      setBusy(false);
      list.reload();
    }
  };
  const start = (body) =>
    setPending({
      title: "Start this rollout?",
      body: `Machines ${body.tier ? `of tier ${body.tier} ` : ""}move to ${body.image} in batches of ${
        body.batch ?? "default"
      }, after ${body.canary ?? 0} canary machine(s).`,
      label: "Start",
      run: async () => {
        const created = await calls.startRollout(body);
        setSelected(created.rollout.id);
        return `rollout ${created.rollout.id} started`;
      },
    });
  const control = (rollout, c) => {
    const run = async () => {
      const result = await calls.rolloutAction(rollout.id, c.name);
      return `${c.name}: ${result.changed ? "done" : "no change"} (${result.rollout?.state})`;
    };
    if (c.confirm) setPending({ title: `${c.label}?`, body: c.confirm, label: c.label, run });
    else perform(run);
  };

  if (!list.data) return html`<${StateBox} loading=${list.loading} error=${list.error} />`;
  if (list.data.unavailable) {
    return html`<p class="state empty" data-testid="rollouts-unavailable">Rollouts are not available on this API.</p>`;
  }
  const rollouts = list.data.rollouts ?? [];
  return html`<div data-testid="rollouts">
    <section class="panel"><h2>Versions</h2><${VersionsChart} /></section>
    <section class="panel"><h2>Start a rollout</h2><${StartForm} onStart=${start} busy=${busy} /></section>
    <${Toast} message=${toast} />
    ${list.error ? html`<${StateBox} error=${list.error} />` : null}
    <section class="panel"><h2>Rollouts</h2>
    ${
    rollouts.length === 0
      ? html`<p class="state empty">No rollout yet.</p>`
      : html`<ul class="plain rollouts">${
        rollouts.map((r) =>
          html`
            <li key=${r.id} class=${selected === r.id ? "selected" : ""}>
              <button class="link" onClick=${() => setSelected(r.id)}>Rollout ${r.id}</button>
              <${RolloutProgress} rollout=${r} />
              <div class="actions">${CONTROLS.filter((c) => c.states.includes(r.state)).map((c) =>
                html`<button data-control=${c.name} disabled=${busy} onClick=${() =>
                  control(r, c)}>${c.label}</button>`
              )}</div>
            </li>
          `
        )
      }</ul>`
  }
    </section>
    ${
    selected
      ? html`
        <section class="panel">
          <h2>Rollout ${selected}</h2>
          <${RolloutDetail} id=${selected} />
        </section>
      `
      : null
  }
    ${
    pending
      ? html`
        <${ConfirmDialog} title=${pending.title} body=${pending.body} confirmLabel=${pending.label}
          onCancel=${() => setPending(null)} onConfirm=${() => perform(pending.run)} />
      `
      : null
  }
  </div>`;
}
