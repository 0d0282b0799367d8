// Talking to merossd: the JSON API under /api/v1 with the session cookie, and the live
// stream of device changes. Nothing here holds the token: the cookie is HttpOnly.

/** The session has ended (or never began): the page shows the sign-in form. */
export class SignedOut extends Error {
  constructor() {
    super("Your session has ended: sign in again.");
  }
}

/** Said on `window` when a request finds the session ended. */
export const SIGNED_OUT = "merossd-signed-out";

/** A request the API refused, with its error code and the field it names. */
export class Refused extends Error {
  constructor(status, error) {
    super(error?.message || `merossd answered ${status}.`);
    this.status = status;
    this.code = error?.code;
    this.field = error?.field;
  }
}

/** One API call; resolves to the JSON answer. */
export async function call(method, path, body) {
  const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api/v1${path}`, options);
  } catch {
    throw new Refused(0, { message: "merossd cannot be reached. Is it running?" });
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.status === 401 && path !== "/session") {
    window.dispatchEvent(new Event(SIGNED_OUT));
    throw new SignedOut();
  }
  if (!response.ok) throw new Refused(response.status, data?.error);
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body ?? {});

/** Signs in with the admin token; the answer sets the session cookie. */
export const signIn = (token) => call("POST", "/session", { token });
/** Ends the session. */
export const signOut = () => call("DELETE", "/session");

/**
 * Follows the devices live: `on(kind, data)` gets `devices` (all), `device` (one changed)
 * and `forgotten`; `onState(connected)` hears the stream drop and come back.
 */
export function follow(on, onState) {
  const stream = new EventSource("/api/v1/live");
  for (const kind of ["devices", "device", "forgotten"]) {
    stream.addEventListener(kind, (e) => {
      try {
        on(kind, JSON.parse(e.data));
      } catch (err) {
        console.error("a live event could not be read", err);
      }
    });
  }
  stream.addEventListener("open", () => onState(true));
  stream.addEventListener("error", () => onState(false));
  return stream;
}
