// A device's settings: its name (and its outlets'), its time zone, and forgetting it.

import { call } from "./api.js";
import { h, say, field } from "./dom.js";

/** The settings card's contents for `d`; `reload` reads the device again after a save. */
export function settings(d, reload) {
  return [h("h2", {}, "Settings"), renameForm(d, reload), forgetButton(d)];
}

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
  open.addEventListener("click", () => {
    // A closing key (Escape) keeps the last value: it must not repeat a forget.
    dialog.returnValue = "";
    dialog.showModal();
  });
  return h("div", { class: "forget" }, open, dialog);
}
