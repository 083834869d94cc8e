/**
 * The overview screen: the fleet at a glance. Figure cards (from `GET /summary` and `GET /usage`), charts
 * (apps created and deleted per day from the event log, cost by plan, health over the last sweep runs), the
 * last rollout in whatever state it is (running, rolled back, completed…) when the API has rollouts, the last
 * sweep runs and the orphan apps.
 *
 * @module
 */
import { ApiError, calls } from "./api.ts";
import { Chart } from "./chart.js";
import { Badge, Card, StateBox } from "./components.js";
import { ago, count, usd } from "./format.js";
import { html } from "./html.js";
import { usePoll } from "./poll.js";
import { RolloutProgress } from "./rollouts.js";

/** Days shown in the provisions chart. */
const DAYS = 14;

/** `null` when the API has no such route (404), the answer otherwise. */
async function optional(call) {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/**
 * Everything the overview shows, loaded in parallel; rollouts only when the API has them
 * (`features.rollouts` false: known absent, so the page makes no request that must fail).
 */
async function loadOverview(features) {
  const [summary, usage, changes, sweeps, orphans, rollouts] = await Promise.all([
    calls.summary(),
    calls.usage(),
    calls.fleetEvents({ type: "app_created,app_deleted", limit: 1000 }),
    calls.sweepRuns(30),
    calls.orphans(),
    features.rollouts === false ? null : optional(calls.rollouts),
  ]);
  return { summary, usage, changes: changes.events, sweeps: sweeps.runs, orphans, rollouts };
}

/** Apps created and deleted per UTC day over the last {@link DAYS} days. */
function perDay(events) {
  const today = Math.floor(Date.now() / 86_400_000);
  const x = [];
  const created = [];
  const deleted = [];
  for (let day = today - DAYS + 1; day <= today; day++) {
    x.push(day * 86_400);
    created.push(0);
    deleted.push(0);
  }
  for (const event of events) {
    const index = Math.floor(new Date(event.created_at).getTime() / 86_400_000) - (today - DAYS + 1);
    if (index < 0 || index >= DAYS) continue;
    (event.event_type === "app_created" ? created : deleted)[index] += 1;
  }
  return { x, series: [{ label: "created", values: created }, { label: "deleted", values: deleted }] };
}

/**
 * Healthy / unhealthy machines checked by each sweep run, oldest first, labelled with the run's UTC time, and
 * a last point "now" from the summary: the same numbers as the Active and Unhealthy tiles, so the chart ends
 * where the tiles are (a run checks a slice of the fleet; the tiles count every active app).
 */
function healthSeries(runs, summary) {
  const observed = runs.filter((run) => run.report?.observed).reverse();
  return {
    x: [...observed, summary].map((_, i) => i),
    labels: [...observed.map((run) => new Date(run.started_at).toISOString().slice(11, 16)), "now"],
    series: [
      {
        label: "healthy",
        values: [
          ...observed.map((run) => run.report.observed.healthy ?? 0),
          summary.active - summary.unhealthy,
        ],
      },
      {
        label: "unhealthy",
        values: [...observed.map((run) => run.report.observed.unhealthy ?? 0), summary.unhealthy],
      },
    ],
  };
}

/** The figure cards. */
function Cards({ summary, usage }) {
  const totals = usage?.totals ?? {};
  return html`
    <section class="cards" aria-label="Fleet figures">
      <${Card} testid="card-total" label="Total" value=${count(summary.total)}
        hint=${`${count(summary.deleted)} deleted, not counted`} />
      <${Card} testid="card-active" label="Active" value=${count(summary.active)} tone="good" />
      <${Card} testid="card-provisioning" label="Provisioning" value=${count(summary.pending)}
        hint="pending, provisioning, deprovisioning" />
      <${Card} testid="card-errors" label="Errors" value=${count(summary.errors + summary.failed)}
        hint=${`${summary.errors} error, ${summary.failed} failed`} tone=${summary.errors + summary.failed
          ? "bad"
          : ""} />
      <${Card} testid="card-unhealthy" label="Unhealthy" value=${count(summary.unhealthy)}
        hint="active, recorded health not healthy"
        tone=${summary.unhealthy ? "bad" : ""} />
      <${Card} testid="card-idle" label="Idle" value=${count(summary.idle ?? 0)}
        hint="stopped or suspended by Fly's proxy, as the plan allows" />
      <${Card} testid="card-held" label="Held" value=${count(summary.held)} tone=${summary.held
        ? "warn"
        : ""} />
      <${Card} testid="card-drifted" label="Drifted" value=${count(summary.drifted ?? 0)}
        hint=${`${summary.out_of_sync} not in sync`} tone=${summary.drifted ? "warn" : ""} />
      <${Card} testid="card-cost" label="Monthly cost" value=${usd(summary.estimated_monthly_cost_usd)}
        hint=${`estimated; observed ${usd(totals.observed_usd)} this month (${
          count(totals.running_hours)
        } h)`} />
    </section>
  `;
}

/** A sweep run that used more than this share of its time budget is shown amber: it is near running out. */
const BUDGET_WARN = 0.6;

/** The share of its time budget a sweep run used, amber above {@link BUDGET_WARN}. */
function BudgetShare({ run }) {
  if (run.duration_ms === null || run.duration_ms === undefined || !run.budget_ms) return "—";
  const share = run.duration_ms / run.budget_ms;
  return html`
    <span class=${share > BUDGET_WARN ? "badge warn" : ""} data-testid="budget-share"
      data-share=${share.toFixed(2)} title=${`${run.duration_ms} ms of a ${run.budget_ms} ms budget`}>${Math
        .round(share * 100)} %</span>
  `;
}

/** The last sweep runs. */
function SweepRuns({ runs }) {
  if (runs.length === 0) return html`<p class="state empty">No sweep has run yet.</p>`;
  return html`
    <table class="compact" data-testid="sweep-runs">
      <thead>
        <tr>
          <th>Run</th>
          <th>Started</th>
          <th>Duration</th>
          <th>Budget used</th>
          <th>Reconciled</th>
          <th>Checked</th>
          <th>Result</th>
        </tr>
      </thead>
      <tbody>${runs.slice(0, 8).map((run) =>
        html`
          <tr key=${run.id} data-run=${run.id}>
            <td>#${run.id}</td>
            <td title=${run.started_at}>${ago(run.started_at)}</td>
            <td>${run.duration_ms ?? "—"} ms</td>
            <td>
              <${BudgetShare} run=${run} />
            </td>
            <td>${run.report?.reconciled?.attempted ?? 0}</td>
            <td>${run.report?.observed?.checked ?? 0}</td>
            <td>${run.error
              ? html`<${Badge} value="error" /> ${run.error}`
              : html`<${Badge} value=${run.stopped_early ? "warning" : "ok"} />`}</td>
          </tr>
        `
      )}</tbody>
    </table>
  `;
}

/** The orphan apps the last sweep found. */
function Orphans({ orphans }) {
  const list = orphans?.orphans ?? [];
  if (list.length === 0) {
    return html`<p class="state empty">${orphans?.note ?? "No orphan apps in the last scan."}</p>`;
  }
  return html`<ul class="plain" data-testid="orphans">${
    list.map((orphan) =>
      html`<li key=${orphan.name}><code>${orphan.name}</code> ${
        orphan.deleted_by_sweep ? html`<${Badge} value="deleted" />` : null
      } ${orphan.paid_user ? html`<${Badge} value="paid user" />` : null}</li>`
    )
  }</ul>`;
}

/** Per plan: what its idle action saves, from what really ran this month (`GET /usage`). */
function PlanRunning({ plans }) {
  if (plans.length === 0) return html`<p class="state empty">No usage this month.</p>`;
  const share = (value) => value === null || value === undefined ? "—" : `${Math.round(value * 100)} %`;
  return html`
    <table data-testid="plan-running">
      <thead>
        <tr>
          <th>Plan</th>
          <th>Idle action</th>
          <th>Running</th>
          <th>Observed</th>
          <th>If always on</th>
        </tr>
      </thead>
      <tbody>${plans.map((plan) =>
        html`
          <tr key=${plan.tier}>
            <td>${plan.tier}</td>
            <td>${plan.idle_action ?? "—"}</td>
            <td>${share(plan.running_share)}</td>
            <td>${usd(plan.observed_usd)}</td>
            <td>${usd(plan.always_on_usd)}</td>
          </tr>
        `
      )}</tbody>
    </table>
  `;
}

/** The overview screen. */
export function Overview({ features }) {
  const { data, error, loading } = usePoll(() => loadOverview(features), [features.rollouts]);
  if (!data) return html`<${StateBox} loading=${loading} error=${error} />`;
  const changes = perDay(data.changes);
  const health = healthSeries(data.sweeps, data.summary);
  const plans = data.usage?.plans ?? [];
  // Newest first: the last rollout, whatever its state (one that just rolled back must not look like none).
  const last = data.rollouts?.rollouts?.[0];
  return html`<div class="overview" data-testid="overview">
    ${error ? html`<${StateBox} error=${error} />` : null}
    <${Cards} summary=${data.summary} usage=${data.usage} />
    <section class="charts">
      <${Chart} testid="chart-changes" title=${`Apps created and deleted per day (last ${DAYS} days)`}
        x=${changes.x} series=${changes.series} bars=${true} />
      <${Chart} testid="chart-cost" title="Estimated monthly cost by plan (USD)" x=${plans.map((_, i) => i)}
        xLabels=${plans.map((p) => p.tier)} bars=${true}
        series=${[{ label: "estimated", values: plans.map((p) => p.estimated_monthly_usd) }, {
    label: "observed",
    values: plans.map((p) => p.observed_usd),
  }]} />
      <${Chart} testid="chart-health" title="Health checked by the last sweep runs, and now (the tiles)" x=${health.x}
        xLabels=${health.labels} series=${health.series} />
    </section>
    <section class="panels">
      <div class="panel">
        <h2>Last rollout</h2>
        ${
    data.rollouts === null
      ? html`<p class="state empty">Rollouts are not available on this API.</p>`
      : last
      ? html`
        <div data-testid="last-rollout">
          <${RolloutProgress} rollout=${last} />
          <p
            class="muted">created <span title=${last.created_at}>${ago(
              last.created_at,
            )}</span>${last.finished_at
              ? html`
                , finished <span title=${last.finished_at}>${ago(last.finished_at)}</span>
              `
              : null} · <a href="#/rollouts">all rollouts</a></p>
        </div>
      `
      : html`<p class="state empty">No rollout yet.</p>`
  }
      </div>
      <div class="panel">
        <h2>Last sweep runs</h2>
        <${SweepRuns} runs=${data.sweeps} />
      </div>
      <div class="panel">
        <h2>Orphan apps</h2>
        <${Orphans} orphans=${data.orphans} />
      </div>
      <div class="panel">
        <h2>Running time by plan (this month)</h2>
        <${PlanRunning} plans=${plans} />
      </div>
    </section>
  </div>`;
}
