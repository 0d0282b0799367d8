"""Drives a real Home Assistant (installed by .ci/homeassistant-install) for merossd's tests.

Run with the Home Assistant venv's python; standard library only.

    ha.py start --config DIR --http-port P --mqtt-host 127.0.0.1 --mqtt-port M
                [--timeout 180] [--watch-pid PID]
    ha.py stop --config DIR [--timeout 60]

`start` writes a minimal configuration.yaml into DIR (which must not have been used by a
Home Assistant before), starts `python -m homeassistant --config DIR --skip-pip` detached
(its log in DIR/home-assistant.log, its stdout and stderr in DIR/hass.out, its pid in
DIR/hass.pid), waits until it answers, onboards a user through the REST onboarding API,
makes a long-lived access token over the websocket API, sets the MQTT integration up
through the config-entries flow (the given broker, no credentials, discovery on under
"homeassistant"), waits until Home Assistant runs with MQTT loaded, and prints one JSON
line on stdout:

    {"url": "http://127.0.0.1:P", "token": "...", "refresh_token": "...", "pid": N, ...}

`token` is a bearer token good for ten years (an "Authorization: Bearer" header on the
REST API). `refresh_token` with `client_id` gets a new short-lived access token from
/auth/token (grant_type=refresh_token) should one ever be wanted. On any failure `start`
stops the Home Assistant it started, prints the end of its log on stderr and exits 1.

With --watch-pid, a small watchdog stops Home Assistant once that process is gone (give it
the test's own pid, so that a test that dies leaves no Home Assistant running).

`stop` sends SIGTERM to the pid in DIR/hass.pid, waits, and sends SIGKILL if it must.

Every wait is bounded. Only the loopback addresses given are ever dialled: the config
loads no integration that reaches the internet (no default_config, no cloud, and the
onboarding "core_config" step, which would set up met.no weather and radio browser, is
marked done in the onboarding store beforehand instead of being posted). The network
integration, which Home Assistant always loads, connect()s a UDP socket to 8.8.8.8 and
224.0.0.251 to learn its source address: a route lookup that sends no packet.

Home Assistant does not inherit this script's stdout: a caller may read it to EOF.
"""
import argparse
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

USER = {"name": "merossd CI", "username": "merossd", "password": "merossd-ci-password",
        "language": "en"}


def log(message):
    print(f"ha.py: {message}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# --- HTTP ------------------------------------------------------------------------------

def http(method, url, body=None, token=None, form=False, timeout=30):
    """One request; returns (status, parsed JSON or text). Raises OSError if unreachable."""
    headers = {}
    data = None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    # No proxy, whatever the environment says: only loopback is dialled.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def expect(what, status, body, ok=(200,)):
    if status not in ok:
        raise Failure(f"{what}: HTTP {status}: {body}")
    return body


# --- a minimal websocket client (RFC 6455), enough for one request ---------------------

class WebSocket:
    def __init__(self, host, port, path, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 101 " not in status_line + " ":
            raise Failure(f"websocket upgrade refused: {status_line}")

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Failure("websocket closed by Home Assistant")
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, message):
        self._send_frame(0x1, json.dumps(message).encode())

    def receive(self):
        message = b""
        while True:
            b0, b1 = self._take(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._take(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._take(8))
            mask = self._take(4) if b1 & 0x80 else None
            payload = self._take(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise Failure("websocket closed by Home Assistant")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if b0 & 0x80:
                    return json.loads(message)

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def long_lived_token(host, port, access_token, timeout=30):
    ws = WebSocket(host, port, "/api/websocket", timeout)
    try:
        hello = ws.receive()
        if hello.get("type") != "auth_required":
            raise Failure(f"websocket: expected auth_required, got {hello}")
        ws.send({"type": "auth", "access_token": access_token})
        answer = ws.receive()
        if answer.get("type") != "auth_ok":
            raise Failure(f"websocket: authentication failed: {answer}")
        ws.send({"id": 1, "type": "auth/long_lived_access_token",
                 "client_name": f"merossd CI {int(time.time())}", "lifespan": 3650})
        while True:
            result = ws.receive()
            if result.get("id") == 1 and result.get("type") == "result":
                break
        if not result.get("success"):
            raise Failure(f"websocket: no long-lived token: {result}")
        return result["result"]
    finally:
        ws.close()


# --- processes -------------------------------------------------------------------------

def alive(pid):
    """True while pid runs and is not a zombie (nobody may reap it in a container)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def is_hass(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"homeassistant" in cmdline.read()
    except OSError:
        return False


def terminate(pid, timeout):
    """SIGTERM, wait up to timeout, then SIGKILL; returns how it ended."""
    if not alive(pid):
        return "not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return "stopped"
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return "stopped"
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return "killed"


WATCHDOG = r"""
import os, signal, sys, time
watched, hass = int(sys.argv[1]), int(sys.argv[2])
def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False
while alive(watched) and alive(hass):
    time.sleep(1)
if alive(hass):
    os.kill(hass, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while alive(hass) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(hass):
        os.kill(hass, signal.SIGKILL)
"""


def memory_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# --- start -----------------------------------------------------------------------------

CONFIGURATION = """\
# Written by tests/homeassistant/ha.py: a minimal Home Assistant for merossd's tests.
# No default_config: nothing here reaches beyond the loopback addresses below.
homeassistant:
  name: merossd CI
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: NL
  language: en
  internal_url: "http://127.0.0.1:{http_port}"
http:
  server_host: 127.0.0.1
  server_port: {http_port}
api:
logger:
  default: info
"""


def write_config(config, http_port):
    os.makedirs(config, exist_ok=True)
    if os.path.exists(os.path.join(config, ".storage")):
        raise Failure(f"{config} already holds a Home Assistant's state: give a fresh directory")
    with open(os.path.join(config, "configuration.yaml"), "w") as f:
        f.write(CONFIGURATION.format(http_port=http_port))
    # The onboarding "core_config" step, posted, would set up met.no, radio browser and
    # Google translate (all on the internet): mark it done instead.
    os.makedirs(os.path.join(config, ".storage"))
    with open(os.path.join(config, ".storage", "onboarding"), "w") as f:
        json.dump({"version": 4, "minor_version": 1, "key": "onboarding",
                   "data": {"done": ["core_config"]}}, f)


def in_recovery_mode(log_path):
    """Home Assistant falls back to a recovery mode (on port 8123!) when a core integration
    such as frontend fails to set up: say so at once rather than time out."""
    try:
        with open(log_path, errors="replace") as f:
            return "Starting in recovery mode" in f.read()
    except OSError:
        return False


def port_free(host, port):
    """Home Assistant whose HTTP port is taken logs it and runs on without HTTP: check first."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise Failure(f"HTTP port {host}:{port} is not free: {error}") from None


def wait_for(what, deadline, probe, proc=None, log_path=None, interval=0.25):
    """Calls probe() until it returns a true value or the deadline passes."""
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise Failure(f"Home Assistant exited with {proc.returncode} while waiting for {what}")
        if log_path and in_recovery_mode(log_path):
            raise Failure("Home Assistant started in recovery mode (an integration it needs "
                          "failed to set up; see the log below)")
        try:
            value = probe()
            if value:
                return value
        except (OSError, ValueError) as error:  # not listening yet, reset, bad JSON
            last = error
        time.sleep(interval)
    raise Failure(f"timed out waiting for {what} (last error: {last})")


def tail(path, lines=60):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as error:
        return f"({path}: {error})"


def start(args):
    config = os.path.abspath(args.config)
    t0 = time.monotonic()
    deadline = t0 + args.timeout
    try:
        port_free("127.0.0.1", args.http_port)
        write_config(config, args.http_port)
    except (Failure, OSError) as error:
        log(f"failed: {error}")
        return 1
    url = f"http://127.0.0.1:{args.http_port}"
    client_id = f"{url}/"
    log_path = os.path.join(config, "home-assistant.log")
    out = open(os.path.join(config, "hass.out"), "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "homeassistant", "--config", config, "--skip-pip",
         "--log-file", log_path, "--log-no-color"],
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        start_new_session=True, close_fds=True, cwd=config)
    out.close()
    with open(os.path.join(config, "hass.pid"), "w") as f:
        f.write(f"{proc.pid}\n")
    log(f"Home Assistant started, pid {proc.pid}, log {log_path}")
    try:
        if args.watch_pid:
            subprocess.Popen([sys.executable, "-c", WATCHDOG, str(args.watch_pid), str(proc.pid)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        # 1. The HTTP API answers: onboarding is one of the first integrations up.
        def answers():
            status, body = http("GET", f"{url}/api/onboarding", timeout=5)
            if status >= 500:
                raise Failure(f"GET /api/onboarding: HTTP {status}: {body}")
            return status == 200
        wait_for("the HTTP API", deadline, answers, proc, log_path)
        t_http = time.monotonic()
        log(f"HTTP API up after {t_http - t0:.1f} s")

        # 2. Onboarding: the user, then its tokens.
        status, body = http("POST", f"{url}/api/onboarding/users",
                            {"client_id": client_id, **USER})
        auth_code = expect("onboarding the user", status, body)["auth_code"]
        status, body = http("POST", f"{url}/auth/token",
                            {"grant_type": "authorization_code", "code": auth_code,
                             "client_id": client_id}, form=True)
        tokens = expect("exchanging the auth code", status, body)
        access, refresh = tokens["access_token"], tokens["refresh_token"]
        expect("onboarding analytics", *http("POST", f"{url}/api/onboarding/analytics", {},
                                             token=access))
        expect("onboarding integration",
               *http("POST", f"{url}/api/onboarding/integration",
                     {"client_id": client_id, "redirect_uri": f"{client_id}?auth_callback=1"},
                     token=access))
        status, steps = http("GET", f"{url}/api/onboarding", timeout=5)
        if status == 200 and not all(step.get("done") for step in steps):
            raise Failure(f"onboarding not done: {steps}")
        token = long_lived_token("127.0.0.1", args.http_port, access)

        # 3. Home Assistant has finished starting.
        def running():
            status, body = http("GET", f"{url}/api/config", token=token, timeout=5)
            return status == 200 and body.get("state") == "RUNNING"
        wait_for("Home Assistant to be RUNNING", deadline, running, proc, log_path)
        t_running = time.monotonic()
        log(f"onboarded, RUNNING after {t_running - t0:.1f} s")

        # 4. MQTT through the config flow.
        status, body = http("POST", f"{url}/api/config/config_entries/flow",
                            {"handler": "mqtt", "show_advanced_options": False}, token=token)
        form = expect("starting the MQTT config flow", status, body)
        if form.get("type") != "form" or form.get("step_id") != "broker":
            raise Failure(f"MQTT config flow: unexpected first step: {form}")
        status, body = http("POST", f"{url}/api/config/config_entries/flow/{form['flow_id']}",
                            {"broker": args.mqtt_host, "port": args.mqtt_port}, token=token,
                            timeout=60)
        created = expect("the MQTT broker step", status, body)
        if created.get("type") != "create_entry":
            raise Failure(f"MQTT config flow did not create an entry (cannot reach the broker?): "
                          f"{created}")
        entry_id = created["result"]["entry_id"]

        def mqtt_loaded():
            status, entries = http("GET", f"{url}/api/config/config_entries/entry?domain=mqtt",
                                   token=token, timeout=5)
            if status != 200:
                return False
            for entry in entries:
                if entry["entry_id"] == entry_id:
                    if entry["state"] in ("setup_error", "migration_error", "failed_unload"):
                        raise Failure(f"MQTT entry: {entry['state']}: {entry.get('reason')}")
                    return entry["state"] == "loaded"
            return False
        wait_for("the MQTT entry to load", deadline, mqtt_loaded, proc)
        t_mqtt = time.monotonic()
        log(f"MQTT set up after {t_mqtt - t0:.1f} s")
    except (Failure, OSError, KeyError, TypeError, AttributeError) as error:
        log(f"failed: {error}")
        log(f"stopping Home Assistant: {terminate(proc.pid, 30)}")
        log(f"the end of {log_path}:\n{tail(log_path)}")
        log(f"the end of {config}/hass.out:\n{tail(os.path.join(config, 'hass.out'), 20)}")
        return 1
    print(json.dumps({
        "url": url, "token": token, "refresh_token": refresh, "client_id": client_id,
        "pid": proc.pid, "mqtt_entry_id": entry_id, "rss_kib": memory_kib(proc.pid),
        "seconds": {"http": round(t_http - t0, 1), "running": round(t_running - t0, 1),
                    "mqtt": round(t_mqtt - t0, 1)},
    }), flush=True)
    return 0


def stop(args):
    path = os.path.join(os.path.abspath(args.config), "hass.pid")
    if not os.path.exists(path):
        log(f"no {path}: nothing to stop")
        return 0
    try:
        with open(path) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError) as error:
        log(f"cannot read {path}: {error}")
        return 1
    if alive(pid) and not is_hass(pid):
        log(f"pid {pid} is not a Home Assistant any more; leaving it")
        return 0
    log(f"Home Assistant pid {pid}: {terminate(pid, args.timeout)}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("start")
    p.add_argument("--config", required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--mqtt-host", default="127.0.0.1")
    p.add_argument("--mqtt-port", type=int, required=True)
    p.add_argument("--timeout", type=float, default=180, help="seconds for all of start")
    p.add_argument("--watch-pid", type=int, help="stop Home Assistant once this pid is gone")
    p = sub.add_parser("stop")
    p.add_argument("--config", required=True)
    p.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    return start(args) if args.command == "start" else stop(args)


if __name__ == "__main__":
    sys.exit(main())
