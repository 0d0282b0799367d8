// What a person would say: a device's kind, its state in a sentence, a time, a size.

/** What kind of thing a device is, from what it reports. */
export function kind(d) {
  const f = d.families ?? {};
  if (f.subdevices?.length) return "Hub";
  if (f.thermostats?.length) return "Thermostat";
  if (f.garage_doors?.length) return "Garage door opener";
  if (f.shutters?.length) return "Roller shutter";
  if (f.sprays?.length) return f.sprays[0].diffuser ? "Diffuser" : "Humidifier";
  if (f.lights?.length) return "Light";
  if (d.uuid.startsWith("moko")) return "MOKO plug";
  if (d.channels.length > 1) return "Power strip";
  if (d.channels.some((c) => c.power_w !== undefined)) return "Plug with energy meter";
  return "Plug";
}

/** The name of a channel of a device: "Kettle", or "Desk strip: Lamp" on a strip. */
export function channelName(d, c) {
  if (d.channels.length <= 1) return d.display_name;
  return `${d.display_name}: ${c.name || (c.channel === 0 ? "all outlets" : `outlet ${c.channel}`)}`;
}

/** Watts as people read them. */
export function watts(w) {
  if (w === null || w === undefined) return "";
  return w >= 100 ? `${Math.round(w)} W` : `${Number(w.toFixed(1))} W`;
}

/** "Kettle is on, using 1,850 W", "Kettle is offline". */
export function sentence(d) {
  if (!d.online) return `${d.display_name} is offline`;
  const f = d.families ?? {};
  const door = f.garage_doors?.[0];
  if (door) return `${d.display_name} is ${door.moving_to === undefined || door.moving_to === null ? (door.open ? "open" : "closed") : door.moving_to ? "opening" : "closing"}`;
  const shutter = f.shutters?.[0];
  if (shutter && shutter.position !== null && shutter.position !== undefined)
    return `${d.display_name} is ${shutter.position === 0 ? "closed" : shutter.position === 100 ? "open" : `${shutter.position}% open`}`;
  const t = f.thermostats?.[0];
  if (t) return `${d.display_name} is ${t.on === false ? "off" : t.heating ? "heating" : "on"}${t.current_c != null ? `, ${t.current_c} °C` : ""}`;
  if (f.subdevices?.length) return `${d.display_name} has ${f.subdevices.length} device${f.subdevices.length === 1 ? "" : "s"}`;
  const on = d.channels.filter((c) => c.on);
  const power = d.channels.reduce((sum, c) => sum + (c.power_w ?? 0), 0);
  const using = d.channels.some((c) => c.power_w !== undefined && c.power_w !== null) ? `, using ${watts(power)}` : "";
  if (d.channels.length > 1) return `${d.display_name}: ${on.length} of ${d.channels.length} on${using}`;
  if (d.channels.length === 0) return `${d.display_name} is online`;
  return `${d.display_name} is ${on.length ? "on" : "off"}${using}`;
}

/** "3 minutes ago", from epoch seconds. */
export function ago(epoch) {
  if (!epoch) return "never";
  const s = Math.max(0, Math.round(Date.now() / 1000 - epoch));
  if (s < 60) return s < 5 ? "just now" : `${s} seconds ago`;
  const units = [[86400, "day"], [3600, "hour"], [60, "minute"]];
  for (const [size, name] of units) {
    if (s >= size) {
      const n = Math.floor(s / size);
      return `${n} ${name}${n === 1 ? "" : "s"} ago`;
    }
  }
  return "";
}

/** A time of day or date, in the browser's own zone. */
export function when(epoch) {
  const d = new Date(epoch * 1000);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** "2 days, 3 hours", from seconds. */
export function duration(s) {
  const parts = [];
  for (const [size, name] of [[86400, "day"], [3600, "hour"], [60, "minute"]]) {
    const n = Math.floor(s / size);
    if (n > 0 && parts.length < 2) parts.push(`${n} ${name}${n === 1 ? "" : "s"}`);
    s -= n * size;
  }
  return parts.length ? parts.join(", ") : "less than a minute";
}

/** Bytes as kB or MB. */
export function bytes(n) {
  if (n < 1024 * 1024) return `${Math.max(1, Math.round(n / 1024))} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** An event of the device's history, in words. */
export function event(e) {
  const said = {
    connected: `Connected from ${e.detail}`,
    disconnected: "Disconnected",
    bound: `Started its session (${e.detail})`,
    unbound: "Was reset",
    state_changed: e.detail.replace(/^channel (\d+) (on|off)$/, (_, c, s) => `Switched ${s}${c === "0" ? "" : ` (outlet ${c})`}`),
    refused_login: `Its login was refused: ${e.detail}`,
    sign_failure: `Sent a message merossd could not verify (${e.detail})`,
    forgotten: "Was forgotten",
  };
  return said[e.kind] ?? `${e.kind} ${e.detail}`;
}
