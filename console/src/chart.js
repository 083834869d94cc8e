/**
 * A uPlot chart as a Preact component: created once per mount, fed new data on every render, resized with
 * its container.
 *
 * @module
 */
import uPlot from "uplot";
import { html, useEffect, useRef } from "./html.js";

/** Colours of the series, in order. */
const COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2"];

/**
 * A line or bar chart.
 * @param {{title: string, x: number[], series: {label: string, values: number[]}[], bars?: boolean,
 *   xLabels?: string[], testid?: string}} props `x` are Unix seconds unless `xLabels` names the points.
 *   The figure's `data-last` holds each series' last value (`{"label": value}`), for a reader or a test.
 */
export function Chart({ title, x, series, bars, xLabels, testid }) {
  const box = useRef(null);
  const plot = useRef(null);
  const shape = `${series.map((s) => s.label).join("|")}:${bars}:${xLabels ? "cat" : "time"}`;

  useEffect(() => {
    const element = box.current;
    // Half a step of room on each side, so the first and last bars show whole and a lone point is centred.
    const xRange = (_u, min, max) => {
      const half = xLabels ? 0.5 : bars ? 43_200 : min === max ? 3600 : 0;
      return [min - half, max + half];
    };
    const options = {
      width: Math.max(element.clientWidth, 200),
      height: 180,
      legend: { show: true },
      scales: { x: { time: !xLabels, auto: true, range: xRange } },
      axes: [
        xLabels ? { values: (_u, ticks) => ticks.map((t) => xLabels[t] ?? "") } : {},
        { size: 50 },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLOURS[i % COLOURS.length],
          fill: bars ? `${COLOURS[i % COLOURS.length]}55` : undefined,
          width: 2,
          paths: bars ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined,
          points: { show: !bars },
        })),
      ],
    };
    plot.current = new uPlot(options, [x, ...series.map((s) => s.values)], element);
    const resize = new ResizeObserver(() => {
      plot.current?.setSize({ width: Math.max(element.clientWidth, 200), height: 180 });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)]);
  });

  const last = JSON.stringify(Object.fromEntries(series.map((s) => [s.label, s.values.at(-1) ?? null])));
  return html`<figure class="chart" data-testid=${testid} data-last=${last}>
    <figcaption>${title}</figcaption>
    <div ref=${box} class="chart-box" role="img" aria-label=${title}></div>
    ${x.length === 0 ? html`<p class="state empty">No data yet.</p>` : null}
  </figure>`;
}
