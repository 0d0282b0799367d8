// The page's start: sign in (once; then the session cookie), follow the devices live, and
// show the view the address asks for: #/ devices, #/device/UUID, #/add, #/system.

import { get, signIn, signOut, follow, SignedOut } from "./api.js";
import { say } from "./dom.js";
import * as list from "./list.js";
import * as device from "./device.js";
import * as add from "./add.js";
import * as system from "./system.js";

const devices = new Map();
let current = null;
let stream = null;

const $ = (id) => document.getElementById(id);

function showSignIn(problem) {
  stream?.close();
  stream = null;
  devices.clear();
  $("nav").hidden = true;
  $("view").replaceChildren();
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = problem ?? "";
  document.body.dataset.state = "signed-out";
  $("token").focus();
}

function route() {
  const [, name, arg] = location.hash.split("/");
  const view = $("view");
  delete document.body.dataset.view;
  for (const a of document.querySelectorAll("#nav a")) {
    a.toggleAttribute("aria-current", a.dataset.route === (name ?? ""));
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
  if (name === "device" && arg) current = device.mount(view, devices, decodeURIComponent(arg));
  else if (name === "add") current = add.mount(view);
  else if (name === "system") current = system.mount(view);
  else current = list.mount(view, devices);
  if (name !== "device") document.title = "merossd";
  Promise.resolve(current.ready).then(() => (document.body.dataset.view = name || "devices"));
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

async function start() {
  let first;
  try {
    first = await get("/devices");
  } catch (err) {
    if (err instanceof SignedOut) return showSignIn();
    say(err.message, true);
    return;
  }
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  for (const d of first.devices) devices.set(d.uuid, d);
  route();
  document.body.dataset.state = "signed-in";
  performance.mark("devices-shown");
  stream = follow(heard, (up) => {
    document.body.dataset.live = up ? "up" : "down";
    if (!up) {
      // The stream tries again by itself; a session that ended shows the sign-in.
      get("/system").catch((err) => err instanceof SignedOut && showSignIn("Your session has ended: sign in again."));
    }
  });
}

$("sign-in-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const token = $("token");
  try {
    await signIn(token.value.trim());
  } catch (err) {
    $("sign-in-error").textContent = err.code === "wrong_token" ? "That is not the admin token." : err.message;
    token.select();
    return;
  }
  token.value = "";
  await start();
});

$("sign-out").addEventListener("click", async () => {
  try {
    await signOut();
  } catch (err) {
    say(err.message, true);
  }
  showSignIn("You have signed out.");
});

window.addEventListener("hashchange", () => $("nav").hidden || route());
start();
