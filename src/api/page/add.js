// Adding a device: what pairing gives a plug (the server it dials, the user id, the key)
// and the `merossd pair` command line, filled in as the Wi-Fi name and password are typed
// (they stay in this page: nothing is sent).

import { get } from "./api.js";
import { h, fill, say, field } from "./dom.js";

/** A shell word: quoted so that any name or password survives the shell. */
const quote = (s) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Copies `text`; without the clipboard API (it needs HTTPS or localhost) `show()` puts
 * it on the screen selected, for Ctrl+C. */
async function copy(text, show) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const shown = show();
    if (shown instanceof HTMLInputElement) shown.select();
    else window.getSelection()?.selectAllChildren(shown);
    say("Selected: press Ctrl+C (or ⌘C) to copy.");
    return;
  }
  say("Copied.");
}

function secret(label, value) {
  const input = h("input", { type: "password", value, readonly: true, class: "mono", spellcheck: "false", autocomplete: "off" });
  const reveal = h("button", { type: "button", class: "secondary", "aria-pressed": "false", "aria-label": `Show ${label.toLowerCase()}` }, "Show");
  const showing = (shown) => {
    input.type = shown ? "text" : "password";
    reveal.setAttribute("aria-pressed", String(shown));
    reveal.textContent = shown ? "Hide" : "Show";
  };
  reveal.addEventListener("click", () => showing(input.type === "password"));
  const copier = h("button", { type: "button", class: "secondary", "aria-label": `Copy ${label.toLowerCase()}` }, "Copy");
  copier.addEventListener("click", () => copy(value, () => (showing(true), input)));
  // The label names the input itself; the buttons sit beside it.
  const row = field(label, input);
  const line = h("div", { class: "row secret" });
  input.replaceWith(line);
  line.append(input, reveal, copier);
  return row;
}

function plain(label, value) {
  return h("div", { class: "field" }, h("span", { class: "label" }, label), h("code", { class: "value" }, value));
}

/** The "Add a device" page. */
export function mount(view) {
  const body = h("div", {});
  fill(view, h("h1", {}, "Add a device"), body);
  const ready = get("/pairing").then((p) => draw(body, p)).catch((e) => say(e.message, true));
  return { update() {}, ready };
}

function draw(body, p) {
  const account = p.accounts[0];
  const server = p.host ? `${p.host}:${p.port}` : null;
  const ssid = h("input", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: "MyWifi" });
  const pass = h("input", { type: "password", autocomplete: "off", placeholder: "its password" });
  const command = h("code", { class: "command", id: "pair-command" });
  const fillCommand = () => {
    const words = ["merossd", "pair", "--wifi-ssid", quote(ssid.value || "MyWifi"), "--wifi-pass", pass.value ? "'…'" : quote("secret")];
    if (p.accounts.length > 1 && account) words.push("--account", account.user_id);
    command.textContent = words.join(" ");
    command.dataset.full = [...words.slice(0, 5), quote(pass.value || "secret"), ...words.slice(6)].join(" ");
  };
  ssid.addEventListener("input", fillCommand);
  pass.addEventListener("input", fillCommand);
  fillCommand();
  const copyCommand = h("button", { type: "button", class: "secondary" }, "Copy the command");
  copyCommand.addEventListener("click", () => copy(command.dataset.full, () => ((command.textContent = command.dataset.full), command)));
  fill(body,
    h("section", { class: "card" },
      h("h2", {}, "What the plug is given"),
      server ? plain("Server (host and port)", server) : h("p", { class: "error" }, `No address of this machine fits: ${p.host_problem ?? "none found"}.`),
      account ? plain("User id", account.user_id) : h("p", { class: "error" }, "No account is configured."),
      account ? secret("Key", account.key) : null,
      h("p", { class: "hint" }, "The key is the secret plugs sign every message with: keep it to yourself."),
    ),
    h("section", { class: "card" },
      h("h2", {}, "Pair a plug"),
      h("ol", { class: "steps" },
        h("li", {}, "Hold the plug's button for about 5 seconds, until its light blinks in two colours."),
        h("li", {}, "On the machine merossd runs on, join the Wi-Fi network the plug opens (", h("code", {}, "Meross_SW_…"), ")."),
        h("li", {}, "Type your home Wi-Fi below and run the command there; it waits until the plug has connected."),
      ),
      field("Your Wi-Fi's name", ssid),
      field("Its password (stays in this page)", pass),
      h("pre", {}, command),
      copyCommand,
      h("p", { class: "hint" }, "Plugs with hardware 8.x pair over Bluetooth: add ", h("code", {}, "--ble"), ". A MOKO plug: ", h("code", {}, "--moko"), ". A plug already on your Wi-Fi: ", h("code", {}, "--device http://ITS-ADDRESS --current-key KEY"), ". See ", h("code", {}, "merossd pair --help"), "."),
    ),
  );
}
