// Every device: its name, kind, whether it is online, what it is doing, and its main
// control (a switch per outlet or light, a garage door's button).

import { post } from "./api.js";
import { h, fill, patch, toggle, busy } from "./dom.js";
import { kind, sentence, channelName, watts, ago } from "./words.js";

/** The main controls of a device, shared with the device page (`doors: false` there). */
export function mainControls(d, { doors = true } = {}) {
  const f = d.families ?? {};
  const controls = [];
  const lights = new Set((f.lights ?? []).map((l) => l.channel));
  // A garage door's or a shutter's channel is the door or the shutter, not a relay.
  const relays = f.garage_doors?.length || f.shutters?.length ? [] : d.channels;
  for (const c of relays) {
    const label = channelName(d, c);
    // The route is in the key: a switch that moves to another is made anew.
    const route = lights.has(c.channel) ? "light" : "toggle";
    const act = (on) => post(`/devices/${d.uuid}/${route}`, { channel: c.channel, on });
    controls.push(
      h(
        "div",
        { class: "control" },
        toggle(label, c.on, `${d.uuid}/${route}/${c.channel}`, act),
        h("span", { class: "control-name", "aria-hidden": "true" }, d.channels.length > 1 ? label.slice(d.display_name.length + 2) : c.on ? "On" : "Off"),
        c.power_w !== undefined && c.power_w !== null && h("span", { class: "watts" }, watts(c.power_w)),
      ),
    );
  }
  for (const door of doors ? f.garage_doors ?? [] : []) {
    const open = door.moving_to ?? door.open;
    const what = open ? "Close" : "Open";
    const button = h("button", { type: "button", class: "secondary", dataset: { key: `${d.uuid}/door/${door.channel}`, open: String(!open) } }, `${what} ${d.display_name}`);
    button.addEventListener("click", () => busy(button, () => post(`/devices/${d.uuid}/garage`, { channel: door.channel, open: button.dataset.open === "true" })));
    controls.push(h("div", { class: "control" }, button));
  }
  return controls;
}

function card(d) {
  return h(
    "article",
    { class: `device${d.online ? "" : " offline"}`, dataset: { uuid: d.uuid } },
    h("div", { class: "device-head" },
      h("h2", {}, h("a", { href: `#/device/${d.uuid}` }, d.display_name)),
      h("span", { class: `badge ${d.online ? "on" : "off"}` }, d.online ? "Online" : "Offline"),
    ),
    h("p", { class: "kind" }, kind(d), d.type ? ` · ${d.type.toUpperCase()}` : ""),
    h("p", { class: "sentence" }, sentence(d), !d.online && d.last_seen ? `; last seen ${ago(d.last_seen)}` : ""),
    d.online ? h("div", { class: "controls" }, mainControls(d)) : null,
  );
}

/** Does `change` to the page, then puts the focus back on the control of the same key. */
function keepingFocus(change) {
  const focused = document.activeElement?.dataset?.key;
  change();
  if (focused) document.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
}

/** The device list, kept up to date by `update`. */
export function mount(view, devices) {
  const list = h("div", { class: "devices", id: "devices" });
  const empty = h("div", { class: "card empty" },
    h("p", {}, "No device has connected yet."),
    h("p", {}, h("a", { href: "#/add" }, "Add a device"), " to pair a plug with merossd."));
  fill(view, h("h1", {}, "Devices"), h("p", { class: "summary", id: "summary" }), list, empty);
  const cards = new Map();
  function update(uuid) {
    const sorted = [...devices.values()].sort((a, b) => a.display_name.localeCompare(b.display_name));
    empty.hidden = sorted.length > 0;
    const online = sorted.filter((d) => d.online).length;
    view.querySelector("#summary").textContent = sorted.length ? `${online} of ${sorted.length} online` : "";
    for (const [id, el] of cards) {
      if (!devices.has(id)) {
        el.remove();
        cards.delete(id);
      }
    }
    for (const d of sorted) {
      const old = cards.get(d.uuid);
      if (old && uuid && uuid !== d.uuid) continue;
      const fresh = card(d);
      if (old) {
        old.className = fresh.className;
        patch(old, ...fresh.childNodes);
      } else {
        list.append(fresh);
        cards.set(d.uuid, fresh);
      }
    }
    const order = sorted.map((d) => d.uuid).join(" ");
    if ([...list.children].map((c) => c.dataset.uuid).join(" ") !== order) {
      keepingFocus(() => sorted.forEach((d) => list.append(cards.get(d.uuid))));
    }
  }
  update(null);
  return { update };
}
