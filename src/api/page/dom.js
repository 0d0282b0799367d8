// Building the page's elements: no HTML strings, so nothing a device reports (a name, a
// firmware string) can become markup.

/** An element: `h("p", {class: "x"}, "text", child)`. Attributes starting with `on` are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces what `el` holds, keeping the focus on the control of the same key. */
export function fill(el, ...children) {
  const focused = document.activeElement?.dataset?.key;
  el.replaceChildren();
  append(el, children);
  if (focused) el.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
}

/**
 * Makes `el`'s children look like `children` while keeping the elements that stay (a
 * switch being pressed, the focus, a slider being dragged): a redraw every second must
 * not take a control from under a finger. Elements of another tag or `data-key` are
 * replaced; others get the new attributes and text.
 */
export function patch(el, ...children) {
  const fresh = document.createElement("div");
  append(fresh, children);
  patchChildren(el, fresh);
}

function patchChildren(old, fresh) {
  const was = [...old.childNodes];
  const now = [...fresh.childNodes];
  now.forEach((node, i) => (i < was.length ? morph(was[i], node) : old.append(node)));
  was.slice(now.length).forEach((node) => node.remove());
}

function morph(old, fresh) {
  const same = old.nodeType === fresh.nodeType && old.nodeName === fresh.nodeName && old.dataset?.key === fresh.dataset?.key;
  if (!same) return old.replaceWith(fresh);
  if (old.nodeType !== Node.ELEMENT_NODE) {
    if (old.nodeValue !== fresh.nodeValue) old.nodeValue = fresh.nodeValue;
    return;
  }
  // aria-busy is the page's own: a command is on its way.
  for (const a of [...old.attributes]) if (!fresh.hasAttribute(a.name) && a.name !== "aria-busy") old.removeAttribute(a.name);
  for (const a of [...fresh.attributes]) if (old.getAttribute(a.name) !== a.value) old.setAttribute(a.name, a.value);
  patchChildren(old, fresh);
  // A control once touched shows its value property, not its attribute: follow the device,
  // unless the user is on it or a command of theirs is on its way.
  const control = old instanceof HTMLInputElement || old instanceof HTMLSelectElement;
  if (control && old !== document.activeElement && old.getAttribute("aria-busy") !== "true" && old.value !== fresh.value) {
    old.value = fresh.value;
  }
}

/**
 * An on/off switch: a real button with role "switch", whose accessible name is `label`
 * and whose aria-checked says what the device last reported. `act(on)` is asked to
 * change it; the switch changes only when the device says it did.
 */
export function toggle(label, on, key, act) {
  const button = h(
    "button",
    {
      type: "button",
      role: "switch",
      class: "switch",
      "aria-checked": on ? "true" : "false",
      "aria-label": label,
      dataset: { key },
    },
    h("span", { class: "knob", "aria-hidden": "true" }),
  );
  // What it shows when clicked (a redraw may have changed it since it was made).
  button.addEventListener("click", () => busy(button, () => act(button.getAttribute("aria-checked") !== "true")));
  return button;
}

/** Runs `work` with `control` marked busy; a refusal is said in the status line. */
export async function busy(control, work) {
  if (control.getAttribute("aria-busy") === "true") return;
  control.setAttribute("aria-busy", "true");
  try {
    await work();
  } catch (err) {
    say(err.message, true);
  } finally {
    control.removeAttribute("aria-busy");
  }
}

/** Says something in the status line (read out by screen readers). */
export function say(text, problem = false) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("problem", problem);
  clearTimeout(say.timer);
  say.timer = setTimeout(() => (status.textContent = ""), problem ? 8000 : 4000);
}

/** A labelled form row. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint && h("p", { class: "hint" }, hint));
}
