/**
 * The operator console's entry: the navigation, a hash router (`#/overview`, `#/apps`, `#/apps/<user_id>`
 * for the user drawer over the table, `#/rollouts`) and the features the console server reports
 * (`/console.json`: whether the API has rollouts; a static host without it makes the screens probe).
 *
 * @module
 */
import { Apps } from "./apps.js";
import { Drawer } from "./drawer.js";
import { html, render, useEffect, useState } from "./html.js";
import { Overview } from "./overview.js";
import { Rollouts } from "./rollouts.js";

/** The screens in the navigation. */
const SCREENS = [
  { path: "overview", label: "Overview" },
  { path: "apps", label: "Apps" },
  { path: "rollouts", label: "Rollouts" },
];

/** The route from the location hash: screen and optional user id. */
function parseRoute() {
  const [screen, id] = location.hash.replace(/^#\/?/, "").split("/");
  return { screen: SCREENS.some((s) => s.path === screen) ? screen : "overview", userId: id || null };
}

/** What the console server says about the API (empty when the bundle is served without it). */
async function loadFeatures() {
  try {
    const response = await fetch("/console.json");
    return response.ok ? await response.json() : {};
  } catch {
    return {};
  }
}

/** The console. */
function App() {
  const [route, setRoute] = useState(parseRoute());
  const [features, setFeatures] = useState(null);
  useEffect(() => {
    const onHash = () => setRoute(parseRoute());
    addEventListener("hashchange", onHash);
    loadFeatures().then(setFeatures);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  useEffect(() => {
    document.title = `${SCREENS.find((s) => s.path === route.screen).label} · Fly apps console`;
  }, [route.screen]);

  return html`
    <header class="top">
      <span class="brand">Fly apps console</span>
      <nav aria-label="Screens">${SCREENS.map((s) =>
        html`
          <a href=${`#/${s.path}`} data-testid=${`nav-${s.path}`}
            aria-current=${route.screen === s.path ? "page" : undefined}>${s.label}</a>
        `
      )}</nav>
    </header>
    <main>${!features
      ? html`<p class="state">Loading…</p>`
      : route.screen === "apps"
      ? html`<${Apps} />${
        route.userId
          ? html`<${Drawer} userId=${route.userId} onClose=${() => (location.hash = "#/apps")} />`
          : null
      }`
      : route.screen === "rollouts"
      ? html`<${Rollouts} features=${features} />`
      : html`<${Overview} features=${features} />`}</main>
  `;
}

const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
