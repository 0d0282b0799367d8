// One device: its controls, its power over a day and a week, energy per day, recent
// events, how it connects and why it is offline when it is; its settings (settings.js).

import { get } from "./api.js";
import { h, fill, patch, say } from "./dom.js";
import { mainControls } from "./list.js";
import { familyControls } from "./controls.js";
import { powerChart, energyChart } from "./chart.js";
import { settings } from "./settings.js";
import { kind, sentence, watts, ago, when, event } from "./words.js";

const DAY = 86400;
/** How often the detail (events, connection) is read again while the device changes. */
const DETAIL_EVERY_MS = 2000;
/** How often new readings reach the charts. */
const CHARTS_EVERY_MS = 60000;

const using = (d) => `Using ${watts(d.channels.reduce((s, c) => s + (c.power_w ?? 0), 0))} now.`;
const shout = (e) => say(e.message, true);

/** The device page of `uuid`; `update` redraws it from the live list, `destroy` ends it. */
export function mount(view, devices, uuid) {
  const page = {
    view,
    devices,
    uuid,
    alive: true,
    top: h("div", {}),
    power: h("section", { class: "card", "aria-labelledby": "power-h", hidden: true }),
    why: h("section", { class: "card warn", hidden: true }),
    about: h("section", { class: "card" }),
    events: h("section", { class: "card" }),
    settings: h("section", { class: "card" }),
    range: "day",
    charts: { at: 0, width: 0, asked: 0 },
    // The charts' width: the card's inside.
    width: () => view.clientWidth - 34,
  };
  fill(view, h("p", {}, h("a", { href: "#/" }, "← All devices")), page.top, page.why, page.power, page.events, page.about, page.settings);
  const detail = throttled(DETAIL_EVERY_MS, () => load(page).catch(shout));
  // Drawn again for a screen that changed width (a phone turned), so the text stays legible.
  const resized = new ResizeObserver(() => {
    if (Math.abs(page.width() - page.charts.width) > 40) drawPower(page).catch(shout);
  });
  resized.observe(page.power);
  drawTop(page);
  const ready = Promise.all([load(page, true), drawPower(page)]).catch(shout);
  return {
    ready,
    update(changed) {
      if (changed && changed !== uuid) return;
      drawTop(page);
      const d = devices.get(uuid);
      const now = page.power.querySelector("#power-now");
      if (d && now) now.textContent = using(d);
      if (Date.now() - page.charts.at > CHARTS_EVERY_MS) drawPower(page).catch(shout);
      detail();
    },
    destroy() {
      page.alive = false;
      resized.disconnect();
      detail.cancel();
    },
  };
}

/** Calls `f` at once, then at most once every `ms` (a last call after a burst included). */
function throttled(ms, f) {
  let last = 0;
  let timer = null;
  const run = () => {
    timer = null;
    last = Date.now();
    f();
  };
  const call = () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
  call.cancel = () => clearTimeout(timer);
  return call;
}

function drawTop(page) {
  const d = page.devices.get(page.uuid);
  if (!d) {
    fill(page.top, h("h1", {}, "No such device"), h("p", {}, "merossd does not know this device (it may have been forgotten)."));
    return;
  }
  document.title = `${d.display_name} · merossd`;
  // A garage door's button is among its family's controls here.
  const controls = d.online ? [...mainControls(d, { doors: false }), ...familyControls(d)] : [];
  patch(page.top,
    h("div", { class: "device-head" }, h("h1", {}, d.display_name), h("span", { class: `badge ${d.online ? "on" : "off"}` }, d.online ? "Online" : "Offline")),
    h("p", { class: "sentence" }, sentence(d)),
    controls.length ? h("section", { class: "card controls-card", "aria-label": "Controls" }, controls) : null,
  );
}

async function drawPower(page) {
  const asked = ++page.charts.asked;
  page.charts.at = Date.now();
  page.charts.width = page.width();
  const d = page.devices.get(page.uuid);
  const metering = d?.channels.some((c) => c.power_w !== undefined);
  page.power.hidden = !metering;
  if (!metering) return;
  const now = Math.floor(Date.now() / 1000);
  const day = page.range === "day";
  const from = now - (day ? DAY : 7 * DAY);
  const [history, energy] = await Promise.all([
    get(`/devices/${page.uuid}/history?from=${from}&to=${now}&step=${day ? "raw" : "hour"}`),
    get(`/devices/${page.uuid}/consumption?days=7`),
  ]);
  // Only the latest drawing is shown (a slower older one must not win), and none once gone.
  if (!page.alive || asked !== page.charts.asked) return;
  const points = history.points
    .filter((p) => p.channel === 0)
    .map((p) => ({ at: p.at ?? p.hour, w: p.power_w ?? p.avg_w }));
  const tab = (name, text) =>
    h("button", {
      type: "button", class: "tab", "aria-pressed": page.range === name ? "true" : "false", dataset: { key: `${page.uuid}/range/${name}` },
      onclick: () => { page.range = name; drawPower(page).catch(shout); },
    }, text);
  const label = `Power of ${d.display_name} over the last ${day ? "24 hours" : "7 days"}`;
  patch(page.power,
    h("h2", { id: "power-h" }, "Power"),
    h("p", { id: "power-now" }, using(d)),
    h("div", { class: "row", role: "group", "aria-label": "Time span" }, tab("day", "Last 24 hours"), tab("week", "Last 7 days")),
    powerChart(points, from, now, label, page.width()),
    h("h3", {}, "Energy per day"),
    energyChart(energy.days, `Energy ${d.display_name} used per day`, page.width()),
  );
}

/** Reads the device's detail and draws what it holds; the settings only the first time. */
async function load(page, first = false) {
  let d;
  try {
    d = await get(`/devices/${page.uuid}`);
  } catch (err) {
    if (err.status === 404) return drawTop(page);
    throw err;
  }
  if (!page.alive) return;
  drawWhy(page.why, d);
  drawAbout(page.about, d);
  fill(page.events, h("h2", {}, "Recent events"),
    d.events?.length
      ? h("ul", { class: "events" }, d.events.slice(0, 12).map((e) => h("li", {}, h("time", { datetime: new Date(e.at * 1000).toISOString() }, when(e.at)), " ", event(e))))
      : h("p", {}, "Nothing yet."));
  // Not drawn again while the device changes: that would wipe a name being typed.
  if (first || !page.settingsDrawn) {
    page.settingsDrawn = true;
    fill(page.settings, ...settings(d, () => load(page, true)));
  }
}

function drawWhy(why, d) {
  const c = d.connection ?? {};
  why.hidden = d.online && !d.why_offline;
  const refused = c.last_login?.outcome === "refused" ? c.last_login : null;
  const tls = c.failed_before_login?.outcome === "tls_failed" ? c.failed_before_login : null;
  fill(why,
    h("h2", {}, d.online ? "Not served yet" : "Why it is offline"),
    h("p", {}, d.why_offline ? d.why_offline[0].toUpperCase() + d.why_offline.slice(1) + "." : ""),
    h("dl", {},
      h("dt", {}, "Last seen"), h("dd", {}, d.last_seen ? `${ago(d.last_seen)} (${when(d.last_seen)})` : "never"),
      refused && [h("dt", {}, "Last refused login"), h("dd", {}, `${when(refused.at)} from ${refused.from}: ${refused.detail}`)],
      tls && [h("dt", {}, "Last TLS failure"), h("dd", {}, `${when(tls.at)} from ${tls.from}: ${tls.detail}`)],
    ),
  );
}

function drawAbout(about, d) {
  const rows = [
    ["Kind", `${kind(d)}${d.type ? ` (${d.type.toUpperCase()})` : ""}`],
    ["Firmware", d.firmware ?? "not known"],
    ["Connection", d.tls ? `TLS: ${d.tls}` : "not known"],
    ["Address", d.ip ?? d.peer ?? "not known"],
    ["MAC", d.mac ?? "not known"],
    ["Wi-Fi signal", d.families?.signal_percent != null ? `${d.families.signal_percent}%` : null],
    ["Time zone", d.timezone],
    ["First seen", d.first_seen ? when(d.first_seen) : null],
    ["Id", d.uuid],
  ].filter(([, v]) => v);
  fill(about, h("h2", {}, "About"), h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
}
