// One device: its controls, its power over a day and a week, energy per day, recent
// events, how it connects and why it is offline when it is; renaming, its time zone, and
// forgetting it.

import { get, call } from "./api.js";
import { h, fill, patch, say, field } from "./dom.js";
import { mainControls } from "./list.js";
import { familyControls } from "./controls.js";
import { powerChart, energyChart } from "./chart.js";
import { kind, sentence, watts, ago, when, event } from "./words.js";

const DAY = 86400;

/** The device page of `uuid`; `update` redraws it from the live list. */
export function mount(view, devices, uuid) {
  const top = h("div", {});
  const power = h("section", { class: "card", "aria-labelledby": "power-h", hidden: true });
  const why = h("section", { class: "card warn", hidden: true });
  const about = h("section", { class: "card" });
  const events = h("section", { class: "card" });
  const settings = h("section", { class: "card" });
  fill(view, h("p", {}, h("a", { href: "#/" }, "← All devices")), top, why, power, events, about, settings);
  let detail = null;
  let range = "day";
  // The charts' width: the card's inside.
  const width = () => view.clientWidth - 34;

  function drawTop() {
    const d = devices.get(uuid);
    if (!d) {
      fill(top, h("h1", {}, "No such device"), h("p", {}, "merossd does not know this device (it may have been forgotten)."));
      return;
    }
    document.title = `${d.display_name} · merossd`;
    const controls = d.online ? [...mainControls(d), ...familyControls(d)] : [];
    patch(top,
      h("div", { class: "device-head" }, h("h1", {}, d.display_name), h("span", { class: `badge ${d.online ? "on" : "off"}` }, d.online ? "Online" : "Offline")),
      h("p", { class: "sentence" }, sentence(d)),
      controls.length ? h("section", { class: "card controls-card", "aria-label": "Controls" }, controls) : null,
    );
  }

  let drawnAt = 0;
  let drawnWidth = 0;
  async function drawPower() {
    drawnAt = Date.now();
    drawnWidth = width();
    const d = devices.get(uuid);
    const metering = d?.channels.some((c) => c.power_w !== undefined);
    power.hidden = !metering;
    if (!metering) return;
    const now = Math.floor(Date.now() / 1000);
    const from = now - (range === "day" ? DAY : 7 * DAY);
    const step = range === "day" ? "raw" : "hour";
    const [history, energy] = await Promise.all([
      get(`/devices/${uuid}/history?from=${from}&to=${now}&step=${step}`),
      get(`/devices/${uuid}/consumption?days=7`),
    ]);
    const points = history.points
      .filter((p) => p.channel === 0)
      .map((p) => ({ at: p.at ?? p.hour, w: p.power_w ?? p.avg_w }));
    const tab = (name, text) =>
      h("button", { type: "button", class: "tab", "aria-pressed": range === name ? "true" : "false", onclick: () => { range = name; drawPower().catch((e) => say(e.message, true)); } }, text);
    const label = `Power of ${d.display_name} over the last ${range === "day" ? "24 hours" : "7 days"}`;
    fill(power,
      h("h2", { id: "power-h" }, "Power"),
      h("p", { id: "power-now" }, using(d)),
      h("div", { class: "row", role: "group", "aria-label": "Time span" }, tab("day", "Last 24 hours"), tab("week", "Last 7 days")),
      powerChart(points, from, now, label, width()),
      h("h3", {}, "Energy per day"),
      energyChart(energy.days, `Energy ${d.display_name} used per day`, width()),
    );
  }

  function drawDetail() {
    if (!detail) return;
    const d = detail;
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
    const fw = d.firmware ?? "not known";
    const rows = [
      ["Kind", `${kind(d)}${d.type ? ` (${d.type.toUpperCase()})` : ""}`],
      ["Firmware", fw],
      ["Connection", d.tls ? `TLS: ${d.tls}` : "not known"],
      ["Address", d.ip ?? d.peer ?? "not known"],
      ["MAC", d.mac ?? "not known"],
      ["Wi-Fi signal", d.families?.signal_percent != null ? `${d.families.signal_percent}%` : null],
      ["Time zone", d.timezone],
      ["First seen", d.first_seen ? when(d.first_seen) : null],
      ["Id", d.uuid],
    ].filter(([, v]) => v);
    fill(about, h("h2", {}, "About"), h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
    fill(events, h("h2", {}, "Recent events"),
      d.events?.length
        ? h("ul", { class: "events" }, d.events.slice(0, 12).map((e) => h("li", {}, h("time", { datetime: new Date(e.at * 1000).toISOString() }, when(e.at)), " ", event(e))))
        : h("p", {}, "Nothing yet."));
  }

  function drawSettings() {
    if (!detail) return;
    fill(settings, h("h2", {}, "Settings"), renameForm(detail, load), forgetButton(detail));
  }

  async function load() {
    try {
      detail = await get(`/devices/${uuid}`);
    } catch (err) {
      if (err.status === 404) return drawTop();
      throw err;
    }
    drawDetail();
    drawSettings();
  }

  let again = null;
  function update(changed) {
    if (changed && changed !== uuid) return;
    drawTop();
    const d = devices.get(uuid);
    const now = power.querySelector("#power-now");
    if (d && now) now.textContent = using(d);
    // New readings reach the charts once a minute.
    if (Date.now() - drawnAt > 60000) drawPower().catch((e) => say(e.message, true));
    // The events and the connection are in the detail: read it again, at most once a second.
    clearTimeout(again);
    again = setTimeout(() => load().catch((e) => say(e.message, true)), 1000);
  }

  // Drawn again for a screen that changed width (a phone turned), so the text stays legible.
  new ResizeObserver(() => {
    if (power.isConnected && Math.abs(width() - drawnWidth) > 40) drawPower().catch((e) => say(e.message, true));
  }).observe(power);

  drawTop();
  const ready = Promise.all([load(), drawPower()]).catch((e) => say(e.message, true));
  return { update, ready };
}

const using = (d) => `Using ${watts(d.channels.reduce((s, c) => s + (c.power_w ?? 0), 0))} now.`;

function renameForm(d, reload) {
  const name = h("input", { type: "text", value: d.name ?? "", maxlength: 100, placeholder: d.display_name, autocomplete: "off" });
  const zone = h("input", { type: "text", value: d.timezone ?? "", list: "zones", autocomplete: "off", spellcheck: "false" });
  const zones = h("datalist", { id: "zones" }, (Intl.supportedValuesOf?.("timeZone") ?? []).map((z) => h("option", { value: z })));
  const channels = d.channels.length > 1
    ? d.channels.map((c) => [c.channel, h("input", { type: "text", value: c.name ?? "", maxlength: 100, autocomplete: "off" })])
    : [];
  const form = h("form", { class: "stack" },
    field("Name", name, "Kept in merossd; the device is not told."),
    channels.map(([n, input]) => field(n === 0 ? "Name of the whole strip's switch" : `Name of outlet ${n}`, input)),
    field("Time zone", zone, "The device's own clock (timers, daily energy) follows it."),
    zones,
    h("button", { type: "submit" }, "Save"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim() || null };
    if (zone.value.trim() !== (d.timezone ?? "")) body.timezone = zone.value.trim() || null;
    if (channels.length) body.channel_names = Object.fromEntries(channels.map(([n, input]) => [String(n), input.value.trim() || null]));
    try {
      await call("PATCH", `/devices/${d.uuid}`, body);
      say("Saved.");
      await reload();
    } catch (err) {
      say(err.message, true);
    }
  });
  return form;
}

function forgetButton(d) {
  const dialog = h("dialog", { "aria-labelledby": "forget-h" },
    h("h2", { id: "forget-h" }, `Forget ${d.display_name}?`),
    h("p", {}, "merossd removes it and its energy history. Nothing is sent to the device: if it connects again, it comes back as new."),
    h("form", { method: "dialog", class: "row" },
      h("button", { value: "cancel", class: "secondary" }, "Keep it"),
      h("button", { value: "forget", class: "danger" }, "Forget it")),
  );
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "forget") return;
    try {
      await call("DELETE", `/devices/${d.uuid}`);
      say(`${d.display_name} was forgotten.`);
      location.hash = "#/";
    } catch (err) {
      say(err.message, true);
    }
  });
  const open = h("button", { type: "button", class: "danger" }, `Forget ${d.display_name}…`);
  open.addEventListener("click", () => dialog.showModal());
  return h("div", { class: "forget" }, open, dialog);
}
