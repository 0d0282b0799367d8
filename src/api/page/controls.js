// The controls of each device family the API offers: a light's brightness, colour and
// white; a thermostat's mode and set point; garage doors; a shutter's position; a spray;
// a hub's valves; do-not-disturb. Each sends one command and shows what the device then
// reports (the live stream brings it).

import { post } from "./api.js";
import { h, toggle, busy, field } from "./dom.js";

const send = (d, route, body) => post(`/devices/${d.uuid}/${route}`, body);

/**
 * A form control that sends `make(value)` when it is changed (not on every key). A change
 * made while a command is on its way is sent when that one is answered.
 */
function sender(control, d, route, make) {
  control.addEventListener("change", () =>
    busy(control, async () => {
      let sent;
      do {
        sent = control.value;
        await send(d, route, make(sent));
      } while (control.value !== sent);
    }),
  );
  return control;
}

function range(key, value, min, max, step = 1) {
  return h("input", { type: "range", min, max, step, value: value ?? min, dataset: { key } });
}

function light(d, l) {
  const can = (bit) => (l.supports & bit) !== 0 || l.supports === 0;
  const part = h("section", { class: "family" }, h("h3", {}, d.channels.length > 1 ? `Light ${l.channel}` : "Light"));
  if (can(4)) {
    part.append(field("Brightness (%)", sender(range(`${d.uuid}/light/${l.channel}/b`, l.brightness, 1, 100), d, "light", (v) => ({ channel: l.channel, brightness: Number(v) }))));
  }
  if ((l.supports & 1) !== 0) {
    const colour = h("input", { type: "color", value: `#${l.rgb ?? "ffffff"}`, dataset: { key: `${d.uuid}/light/${l.channel}/rgb` } });
    part.append(field("Colour", sender(colour, d, "light", (v) => ({ channel: l.channel, rgb: v.slice(1) }))));
  }
  if ((l.supports & 2) !== 0) {
    part.append(field("White (warm to cold)", sender(range(`${d.uuid}/light/${l.channel}/t`, l.temperature, 1, 100), d, "light", (v) => ({ channel: l.channel, temperature: Number(v) }))));
  }
  return part;
}

function thermostat(d, t) {
  const modes = t.flavour === "modeB" ? ["heat_cool", "schedule", "timer"] : ["heat", "cool", "eco", "auto", "manual"];
  const names = { heat: "Heat", cool: "Cool", eco: "Eco", auto: "Auto (its schedule)", manual: "Manual", heat_cool: "Heat and cool", schedule: "Schedule", timer: "Timer" };
  const mode = h("select", { dataset: { key: `${d.uuid}/thermostat/${t.channel}/mode` } }, modes.map((m) => h("option", { value: m, selected: m === t.mode }, names[m])));
  const target = h("input", { type: "number", min: t.min_c ?? 5, max: t.max_c ?? 35, step: 0.5, value: t.target_c ?? "", dataset: { key: `${d.uuid}/thermostat/${t.channel}/target` } });
  return h("section", { class: "family" },
    h("h3", {}, "Thermostat"),
    h("p", {}, t.current_c != null ? `It is ${t.current_c} °C` : "", t.target_c != null ? `, set to ${t.target_c} °C` : "", t.heating ? "; heating now" : "", t.cooling ? "; cooling now" : "", t.window_open ? "; a window is open" : ""),
    h("div", { class: "control" }, toggle(`${d.display_name} thermostat`, t.on !== false, `${d.uuid}/thermostat/${t.channel}/on`, (on) => send(d, "thermostat", { channel: t.channel, on })), h("span", { "aria-hidden": "true" }, t.on === false ? "Off" : "On")),
    field("Mode", sender(mode, d, "thermostat", (v) => ({ channel: t.channel, mode: v }))),
    field("Set point (°C)", sender(target, d, "thermostat", (v) => ({ channel: t.channel, target_c: Number(v) }))),
  );
}

function door(d, g) {
  const open = g.moving_to ?? g.open;
  const state = g.moving_to === undefined || g.moving_to === null ? (g.open ? "open" : "closed") : g.moving_to ? "opening" : "closing";
  const name = d.families.garage_doors.length > 1 ? `Door ${g.channel}` : "The door";
  const button = h("button", { type: "button", dataset: { key: `${d.uuid}/door/${g.channel}`, open: String(!open) } }, open ? `Close ${name.toLowerCase()}` : `Open ${name.toLowerCase()}`);
  button.addEventListener("click", () => busy(button, () => send(d, "garage", { channel: g.channel, open: button.dataset.open === "true" })));
  return h("section", { class: "family" }, h("h3", {}, "Garage door"), h("p", {}, `${name} is ${state}.`), button);
}

function shutter(d, s) {
  const move = (action) => {
    const b = h("button", { type: "button", class: "secondary", dataset: { key: `${d.uuid}/shutter/${s.channel}/${action}` } }, action[0].toUpperCase() + action.slice(1));
    b.addEventListener("click", () => busy(b, () => send(d, "shutter", { channel: s.channel, action })));
    return b;
  };
  const position = sender(range(`${d.uuid}/shutter/${s.channel}/position`, s.position, 0, 100), d, "shutter", (v) => ({ channel: s.channel, position: Number(v) }));
  return h("section", { class: "family" },
    h("h3", {}, "Shutter"),
    h("p", {}, s.position != null ? `${s.position}% open` : "Position not known yet", s.motion && s.motion !== "idle" ? `, ${s.motion}` : ""),
    field("Position (% open)", position),
    h("div", { class: "row" }, move("open"), move("stop"), move("close")),
  );
}

function spray(d, s) {
  const modes = s.diffuser ? ["off", "eco", "full"] : ["off", "continuous", "intermittent"];
  const select = h("select", { dataset: { key: `${d.uuid}/spray/${s.channel}` } }, modes.map((m) => h("option", { value: m, selected: m === s.mode }, m[0].toUpperCase() + m.slice(1))));
  return h("section", { class: "family" }, h("h3", {}, "Spray"), field("Spray", sender(select, d, "spray", (v) => ({ channel: s.channel, mode: v }))));
}

function subdevice(d, s) {
  const name = `${s.kind ? s.kind.toUpperCase() : "Device"} ${s.id}`;
  const facts = [
    s.online === false ? "offline" : null,
    s.temperature_c != null ? `${s.temperature_c} °C` : null,
    s.humidity_percent != null ? `${s.humidity_percent}% humidity` : null,
    s.target_c != null ? `set to ${s.target_c} °C` : null,
    s.battery_percent != null ? `battery ${s.battery_percent}%` : null,
    s.leak ? "WATER FOUND" : null,
    s.door_open != null ? (s.door_open ? "open" : "closed") : null,
  ].filter(Boolean);
  const item = h("li", {}, h("strong", {}, name), facts.length ? `: ${facts.join(", ")}` : "");
  if (s.on !== undefined && s.on !== null) {
    const route = `subdevices/${encodeURIComponent(s.id)}`;
    const target = h("input", { type: "number", min: s.min_c ?? 5, max: s.max_c ?? 35, step: 0.5, value: s.target_c ?? "", dataset: { key: `${d.uuid}/sub/${s.id}/t` } });
    item.append(
      h("div", { class: "control" }, toggle(`${d.display_name}: ${name}`, s.on, `${d.uuid}/sub/${s.id}`, (on) => send(d, route, { on }))),
      field(`Set point of ${name} (°C)`, sender(target, d, route, (v) => ({ target_c: Number(v) }))),
    );
  }
  return item;
}

/** Every family control of `d`. */
export function familyControls(d) {
  const f = d.families ?? {};
  const parts = [
    ...(f.lights ?? []).map((l) => light(d, l)),
    ...(f.thermostats ?? []).map((t) => thermostat(d, t)),
    ...(f.garage_doors ?? []).map((g) => door(d, g)),
    ...(f.shutters ?? []).map((s) => shutter(d, s)),
    ...(f.sprays ?? []).map((s) => spray(d, s)),
  ];
  if (f.subdevices?.length) {
    parts.push(h("section", { class: "family" }, h("h3", {}, "Devices on this hub"), h("ul", { class: "plain" }, f.subdevices.map((s) => subdevice(d, s)))));
  }
  if (f.dnd !== undefined && f.dnd !== null) {
    parts.push(h("section", { class: "family" }, h("h3", {}, "Do not disturb"),
      h("div", { class: "control" }, toggle(`${d.display_name}: do not disturb (LED off)`, f.dnd, `${d.uuid}/dnd`, (on) => send(d, "dnd", { on })), h("span", { "aria-hidden": "true" }, f.dnd ? "LED kept off" : "LED on"))));
  }
  return parts;
}
