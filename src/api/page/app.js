// The page's start: sign in (once; then the session cookie), follow the devices live, and
// show the view the address asks for: #/ devices, #/device/UUID, #/add, #/system.

import { get, signIn, signOut, follow, SignedOut, SIGNED_OUT } from "./api.js";
import { say } from "./dom.js";
import * as list from "./list.js";
import * as device from "./device.js";
import * as add from "./add.js";
import * as system from "./system.js";

/** How long a live stream that failed waits before it is opened again. */
const RETRY_MS = 5000;

const devices = new Map();
let current = null;
let stream = null;
let retry = null;

const $ = (id) => document.getElementById(id);
const signedIn = () => document.body.dataset.state === "signed-in";

function leaveView() {
  current?.destroy?.();
  current = null;
}

function showSignIn(problem) {
  stopLive();
  leaveView();
  devices.clear();
  $("nav").hidden = true;
  $("view").replaceChildren();
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = problem ?? "";
  document.body.dataset.state = "signed-out";
  $("token").focus();
}

/** The view's name and argument from the address; a device's id must look like one. */
function address() {
  const [, name = "", arg] = location.hash.split("/");
  if (name !== "device") return [name, null];
  let uuid = "";
  try {
    uuid = decodeURIComponent(arg ?? "");
  } catch {
    uuid = "";
  }
  return /^[A-Za-z0-9]{1,64}$/.test(uuid) ? [name, uuid] : ["", null];
}

function route() {
  const [name, uuid] = address();
  const view = $("view");
  leaveView();
  delete document.body.dataset.view;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.route === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  let shown;
  if (name === "device") shown = device.mount(view, devices, uuid);
  else if (name === "add") shown = add.mount(view);
  else if (name === "system") shown = system.mount(view);
  else shown = list.mount(view, devices);
  current = shown;
  if (name !== "device") document.title = "merossd";
  // Marked when it has drawn, unless another view took its place meanwhile.
  Promise.resolve(shown.ready).then(() => current === shown && (document.body.dataset.view = name === "device" ? "device" : name || "devices"));
  $("main").focus({ preventScroll: true });
}

function heard(kind, data) {
  if (kind === "devices") {
    devices.clear();
    for (const d of data.devices) devices.set(d.uuid, d);
    current?.update(null);
  } else if (kind === "device") {
    devices.set(data.uuid, data);
    current?.update(data.uuid);
  } else if (kind === "forgotten") {
    devices.delete(data.uuid);
    current?.update(data.uuid);
  }
}

function stopLive() {
  clearTimeout(retry);
  stream?.close();
  stream = null;
  document.body.dataset.live = "down";
}

/** Opens the live stream; one that the server ended is opened again while signed in. */
function startLive() {
  stopLive();
  const opened = follow(heard, (up) => {
    document.body.dataset.live = up ? "up" : "down";
    if (up || opened !== stream || opened.readyState !== EventSource.CLOSED) return;
    // Closed for good (a 401, a 503): a session that ended shows the sign-in, else try again.
    say("Not live: trying again in a few seconds.", true);
    const again = () => {
      // A newer stream has taken this one's place meanwhile: nothing to do.
      if (opened !== stream) return;
      clearTimeout(retry);
      retry = setTimeout(() => signedIn() && !document.hidden && startLive(), RETRY_MS);
    };
    // Anything but an ended session (a proxy's 502 while merossd restarts) is tried again.
    get("/system").then(again, (err) => err instanceof SignedOut || again());
  });
  stream = opened;
}

async function start() {
  stopLive();
  let first;
  try {
    first = await get("/devices");
  } catch (err) {
    if (err instanceof SignedOut) showSignIn();
    else say(err.message, true);
    return;
  }
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  devices.clear();
  for (const d of first.devices) devices.set(d.uuid, d);
  document.body.dataset.state = "signed-in";
  route();
  performance.mark("devices-shown");
  if (!document.hidden) startLive();
}

$("sign-in-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const token = $("token");
  if (form.getAttribute("aria-busy") === "true") return;
  form.setAttribute("aria-busy", "true");
  try {
    await signIn(token.value.trim());
    token.value = "";
    await start();
  } catch (err) {
    $("sign-in-error").textContent = err.code === "wrong_token" ? "That is not the admin token." : err.message;
    token.select();
  } finally {
    form.removeAttribute("aria-busy");
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await signOut();
  } catch (err) {
    // Still signed in: say so rather than pretend.
    say(`Could not sign out: ${err.message}`, true);
    return;
  }
  showSignIn("You have signed out.");
});

// A request that found the session ended.
window.addEventListener(SIGNED_OUT, () => signedIn() && showSignIn("Your session has ended: sign in again."));
window.addEventListener("hashchange", () => signedIn() && route());
// A browser holds few connections per site: a page out of sight gives its stream back,
// and gets every device again when it is looked at.
document.addEventListener("visibilitychange", () => {
  if (!signedIn()) return;
  if (document.hidden) stopLive();
  else startLive();
});
start();
