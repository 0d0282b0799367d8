// Small SVG charts drawn from the history API: power over time as a line, energy per day
// as bars. Each has a text summary beside it for those who do not see it.

import { h } from "./dom.js";
import { watts, when } from "./words.js";

const H = 180;
const PAD = { left: 58, right: 8, top: 10, bottom: 22 };

const svg = (tag, attrs, ...children) => h(`svg:${tag}`, attrs, ...children);

/** A nice round top for an axis that must reach `max`. */
function ceiling(max) {
  if (max <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= max) return m * step;
  return 10 * step;
}

/** How wide a chart is drawn: the width it gets on the screen, so its text stays legible. */
const fit = (width) => Math.max(280, Math.min(1000, Math.round(width || 600)));

/** Power over [from, to]: `points` are `{at, w}` (epoch seconds, watts), oldest first. */
export function powerChart(points, from, to, label, width) {
  const W = fit(width);
  const top = ceiling(points.reduce((m, p) => Math.max(m, p.w), 0));
  const x = (t) => PAD.left + ((t - from) / Math.max(1, to - from)) * (W - PAD.left - PAD.right);
  const y = (w) => H - PAD.bottom - (w / top) * (H - PAD.top - PAD.bottom);
  const line = points.map((p) => `${x(p.at).toFixed(1)},${y(p.w).toFixed(1)}`).join(" ");
  const parts = W < 500 ? [0, 0.5, 1] : [0, 0.25, 0.5, 0.75, 1];
  const ticks = parts.map((f) => from + f * (to - from));
  const dayLong = to - from > 2 * 86400;
  const tickText = (t) => {
    const d = new Date(t * 1000);
    return dayLong ? d.toLocaleDateString([], { weekday: "short" }) : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  };
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label, dataset: { points: String(points.length) } },
    svg("title", {}, label),
    [0, 0.5, 1].map((f) =>
      svg("g", {},
        svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(top * f), y2: y(top * f), class: "grid" }),
        svg("text", { x: PAD.left - 6, y: y(top * f) + 4, class: "axis", "text-anchor": "end" }, watts(top * f)),
      ),
    ),
    ticks.map((t, i) => svg("text", { x: x(t), y: H - 6, class: "axis", "text-anchor": i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle" }, tickText(t))),
    points.length > 1 && svg("polyline", { points: line, class: "line" }),
    points.length === 1 && svg("circle", { cx: x(points[0].at), cy: y(points[0].w), r: 3, class: "dot" }),
  );
  return h("figure", { class: "figure" }, chart, h("figcaption", {}, summary(points)));
}

function summary(points) {
  if (!points.length) return "No readings in this time.";
  const peak = points.reduce((a, b) => (b.w > a.w ? b : a));
  const mean = points.reduce((s, p) => s + p.w, 0) / points.length;
  return `Highest ${watts(peak.w)} at ${when(peak.at)}; ${watts(mean)} on average over ${points.length} readings.`;
}

/** Energy per day: `days` are `{date, wh}`, oldest first. */
export function energyChart(days, label, width) {
  const W = fit(width);
  const top = ceiling(days.reduce((m, d) => Math.max(m, d.wh), 0));
  const slot = (W - PAD.left - PAD.right) / Math.max(1, days.length);
  const y = (wh) => H - PAD.bottom - (wh / top) * (H - PAD.top - PAD.bottom);
  const kwh = (wh) => (wh >= 1000 ? `${(wh / 1000).toFixed(2)} kWh` : `${Math.round(wh)} Wh`);
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label, dataset: { points: String(days.length) } },
    svg("title", {}, label),
    svg("text", { x: PAD.left - 6, y: y(top) + 4, class: "axis", "text-anchor": "end" }, kwh(top)),
    days.map((d, i) =>
      svg("g", {},
        svg("rect", { x: PAD.left + i * slot + slot * 0.15, y: y(d.wh), width: slot * 0.7, height: Math.max(0, H - PAD.bottom - y(d.wh)), class: "bar" },
          svg("title", {}, `${d.date}: ${kwh(d.wh)}`)),
        svg("text", { x: PAD.left + i * slot + slot / 2, y: H - 6, class: "axis", "text-anchor": "middle" }, slot < 48 ? d.date.slice(8) : d.date.slice(5)),
      ),
    ),
  );
  const total = days.reduce((s, d) => s + d.wh, 0);
  const caption = days.length ? `${kwh(total)} over ${days.length} day${days.length === 1 ? "" : "s"}.` : "No day counted yet.";
  return h("figure", { class: "figure" }, chart, h("figcaption", {}, caption));
}
