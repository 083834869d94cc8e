/**
 * The apps table: filter, search, sort and cursor paging done by the admin API (`GET /apps`), so it stays
 * fast with 10,000 rows; row actions (retry, hold/release, restart, confirmed when they stop a machine)
 * and a bulk retry of failed rows. A click on a user opens the user drawer.
 *
 * @module
 */
import { actionsFor, retryFailed, runAction } from "./actions.js";
import { calls } from "./api.ts";
import { Badge, ConfirmDialog, StateBox, Toast } from "./components.js";
import { ago, fullImage, shortImage, usd } from "./format.js";
import { html, useEffect, useState } from "./html.js";
import { usePoll } from "./poll.js";
import { APP_STATUSES, HEALTH_VALUES } from "../../supabase/functions/_shared/vocabulary.ts";

/** Rows per page. */
const PAGE_SIZE = 50;

/** Filter choices: "" (any) and the vocabularies. */
const STATUSES = ["", ...APP_STATUSES];
const HEALTH = ["", ...HEALTH_VALUES];

/** Sortable columns: header label → API sort key (User: email, then user id). */
const SORTABLE = { User: "email", Status: "status", Health: "health", Cost: "cost", Updated: "updated_at" };

/**
 * The default order: by email, then user id. A stable key, so a refresh (every few seconds) keeps the rows
 * where they are; "Updated" would move a row on every change.
 */
const DEFAULT_SORT = { key: "email", order: "asc" };

/** The value of a text input, debounced. */
function useDebounced(value, ms) {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value]);
  return debounced;
}

/** Filter controls. */
function Filters({ filters, setFilters, search, setSearch }) {
  const set = (key) => (event) => setFilters({ ...filters, [key]: event.currentTarget.value });
  return html`
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <label>Search <input type="search" data-testid="search" placeholder="email, user id or app"
          value=${search} onInput=${(e) => setSearch(e.currentTarget.value)} /></label>
      <label>Status <select data-testid="filter-status" value=${filters.status} onChange=${set("status")}>
          ${STATUSES.map((s) => html`<option value=${s}>${s || "any"}</option>`)}
        </select></label>
      <label>Health <select value=${filters.health} onChange=${set("health")}>
          ${HEALTH.map((s) => html`<option value=${s}>${s || "any"}</option>`)}
        </select></label>
      <label>Tier <input size="6" value=${filters.tier} onChange=${set("tier")} placeholder="any" /></label>
      <label>Region <input size="4" value=${filters.region} onChange=${set(
        "region",
      )} placeholder="any" /></label>
      <label>Drift <select value=${filters.drift} onChange=${set("drift")}>
          <option value="">any</option><option value="true">drifted</option><option value="false">no drift</option>
        </select></label>
    </form>
  `;
}

/** The table's header; sortable columns are buttons. */
function Header({ sort, setSort }) {
  const th = (label) => {
    const key = SORTABLE[label];
    if (!key) return html`<th scope="col">${label}</th>`;
    const active = sort.key === key;
    const next = active && sort.order === "desc" ? "asc" : "desc";
    return html`<th scope="col" aria-sort=${
      active ? (sort.order === "asc" ? "ascending" : "descending") : "none"
    }>
      <button class="link" onClick=${() => setSort({ key, order: next })}>
        ${label}${active ? (sort.order === "asc" ? " ▲" : " ▼") : ""}
      </button></th>`;
  };
  return html`
    <thead>
      <tr>
        ${["User", "Status", "Health", "Tier", "Region", "Image", "Cost", "Last check", "Updated", "Actions"]
          .map(th)}
      </tr>
    </thead>
  `;
}

/** One row. */
function Row({ row, onAction, busy }) {
  const drifted = row.drift && Object.keys(row.drift).length > 0;
  return html`
    <tr data-testid="app-row" data-user=${row.user_id} data-status=${row.status}>
      <td><a href=${`#/apps/${row.user_id}`} class="user">${row.email ?? row.user_id}</a>
          <div class="muted mono">${row.fly_app_name ?? "no app yet"}</div></td>
      <td><${Badge} value=${row.status} />${row.error_message
        ? html`<div class="muted clip" title=${row.error_message}>${row.error_message}</div>`
        : null}</td>
      <td>
        <${Badge} value=${row.health_status} />${row.idle_since
          ? html`<div class="muted" data-testid="idle-since" title=${row.idle_since}>idle since ${
            ago(row.idle_since)
          }</div>`
          : null}
      </td>
      <td>${row.tier ?? "—"}</td>
      <td>${row.region ?? "—"}</td>
      <td class="mono" data-testid="image" title=${fullImage(
        row.docker_image,
        row.image_digest,
      )}>${shortImage(row.docker_image, row.image_digest)}
          ${drifted
            ? html`
              <span class="badge warn" title=${JSON.stringify(row.drift)}>drift</span>
            `
            : null}</td>
      <td>${usd(row.monthly_cost_estimate_usd)}</td>
      <td title=${row.last_health_check_at ?? ""}>${ago(
        row.last_health_check_at ?? row.last_observed_at,
      )}</td>
      <td title=${row.updated_at}>${ago(row.updated_at)}</td>
      <td class="actions">${actionsFor(row).map((action) =>
        html`<button data-action=${action.name} disabled=${busy} onClick=${() =>
          onAction(action, row)}>${action.label}</button>`
      )}</td>
    </tr>
  `;
}

/** The apps screen. */
export function Apps() {
  const [filters, setFilters] = useState({ status: "", health: "", tier: "", region: "", drift: "" });
  const [search, setSearch] = useState("");
  const q = useDebounced(search.trim(), 250);
  const [sort, setSort] = useState(DEFAULT_SORT);
  const [cursors, setCursors] = useState([null]);
  const [pending, setPending] = useState(null);
  const [busy, setBusy] = useState(false);
  const [toast, setToast] = useState(null);
  const cursor = cursors.at(-1);
  const key = JSON.stringify([filters, q, sort]);
  useEffect(() => setCursors([null]), [key]);

  const { data, error, loading, reload } = usePoll(
    () => calls.apps({ ...filters, q, sort: sort.key, order: sort.order, limit: PAGE_SIZE, cursor }),
    [key, cursor],
  );

  const perform = async (run) => {
    setPending(null);
    setBusy(true);
    try {
      setToast({ text: await run() });
    } catch (failure) {
      setToast({ text: failure.message, error: true });
    } finally {
      setBusy(false);
      reload();
    }
  };
  const onAction = (action, row) => {
    const run = (reason) =>
      runAction(action.name, row.user_id, reason).then((text) => `${row.email ?? row.user_id}: ${text}`);
    if (action.confirm) {
      setPending({
        title: `${action.label}?`,
        body: action.confirm,
        label: action.label,
        reasonLabel: action.reason,
        run,
      });
    } else perform(run);
  };

  const rows = data?.apps ?? [];
  return html`<div data-testid="apps">
    <div class="toolbar">
      <${Filters} filters=${filters} setFilters=${setFilters} search=${search} setSearch=${setSearch} />
      <button data-testid="bulk-retry" disabled=${busy} onClick=${() =>
    setPending({
      title: "Retry every failed app?",
      body: "Every app in status error or failed is made due now and reconciled at Fly's rate limits.",
      label: "Retry failed",
      run: retryFailed,
    })}>Retry all failed</button>
    </div>
    <${Toast} message=${toast} />
    ${error && data ? html`<${StateBox} error=${error} />` : null}
    ${
    data
      ? html`
        <div class="table-wrap">
          <table data-testid="apps-table">
            <${Header} sort=${sort} setSort=${setSort} />
            <tbody>${rows.map((row) =>
              html`<${Row} key=${row.id} row=${row} busy=${busy} onAction=${onAction} />`
            )}</tbody>
          </table>
        </div>
            ${rows.length === 0
              ? html`<p class="state empty" data-testid="apps-empty">No app matches these filters.</p>`
              : null}
      `
      : html`<${StateBox} loading=${loading} error=${error} />`
  }
    <nav class="pager" aria-label="Pages">
      <button disabled=${cursors.length <= 1} onClick=${() =>
    setCursors(cursors.slice(0, -1))}>← Previous</button>
      <span>Page ${cursors.length}</span>
      <button data-testid="next-page" disabled=${!data?.next_cursor} onClick=${() =>
    setCursors([...cursors, data.next_cursor])}>Next →</button>
    </nav>
    ${
    pending
      ? html`
        <${ConfirmDialog} title=${pending.title} body=${pending.body} confirmLabel=${pending.label}
          reasonLabel=${pending.reasonLabel} onCancel=${() => setPending(null)}
          onConfirm=${(reason) => perform(() => pending.run(reason))} />
      `
      : null
  }
  </div>`;
}
