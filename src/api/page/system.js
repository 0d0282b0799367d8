// The daemon at a glance: version, uptime, devices, refused logins, TLS handshakes by
// stack, the store's size, and the metrics.

import { get } from "./api.js";
import { h, fill, say } from "./dom.js";
import { duration, bytes } from "./words.js";

/** The "System" page; `update` reads it again when devices change (at most every 5 s). */
export function mount(view) {
  const body = h("div", {});
  fill(view, h("h1", {}, "System"), body);
  const load = () => get("/system").then((s) => draw(body, s));
  const ready = load().catch((e) => say(e.message, true));
  let last = Date.now();
  return {
    ready,
    update() {
      if (Date.now() - last < 5000) return;
      last = Date.now();
      load().catch((e) => say(e.message, true));
    },
  };
}

function draw(body, s) {
  const handshakes = s.tls_handshakes.filter((t) => t.count > 0);
  const store = s.store === "ok" ? bytes(s.store_bytes) : `${bytes(s.store_bytes)}; it cannot write: ${s.store.error}`;
  fill(body,
    h("section", { class: "card" },
      h("dl", { class: "facts" },
        h("dt", {}, "Version"), h("dd", {}, `merossd ${s.version}`),
        h("dt", {}, "Running for"), h("dd", {}, duration(s.uptime_s)),
        h("dt", {}, "Devices"), h("dd", {}, `${s.devices.online} of ${s.devices.known} online`),
        h("dt", {}, "Connections now"), h("dd", {}, String(s.connections_open)),
        h("dt", {}, "Refused logins"), h("dd", {}, String(s.refused_logins)),
        h("dt", {}, "Failed TLS handshakes"), h("dd", {}, String(s.handshake_failures)),
        h("dt", {}, "Database"), h("dd", {}, store),
        h("dt", {}, "Signed-in browsers"), h("dd", {}, String(s.web_sessions)),
      ),
    ),
    h("section", { class: "card" },
      h("h2", {}, "TLS handshakes by stack"),
      handshakes.length
        ? h("table", {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Stack"), h("th", { scope: "col" }, "Version"), h("th", { scope: "col", class: "num" }, "Handshakes"))),
          h("tbody", {}, handshakes.map((t) => h("tr", {}, h("td", {}, t.stack === "rustls" ? "rustls" : "OpenSSL (older plugs)"), h("td", {}, t.version), h("td", { class: "num" }, String(t.count))))))
        : h("p", {}, "None since merossd started."),
    ),
    h("p", {}, h("a", { href: "/metrics" }, "Prometheus metrics"), s.metrics_public ? " (open to all)" : " (needs the token or this page's session)"),
  );
}
