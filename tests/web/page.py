"""merossd's web page in a real headless Chromium, driven by Selenium.

Run by tests/it/web.rs, which starts the daemon and the simulated plugs and answers the
steps this script asks of it on stdin (a JSON line per step, to stdout): "clicked" (is
the simulated relay now as the page asked?) and "press" (switch the relay on the plug
itself). The last line printed is a JSON object of what was measured; a failed check
exits non-zero with the reason.

    page.py BASE_URL TOKEN SHOTS_DIR PLUGS_JSON FAMILIES_JSON
"""

import json
import sys
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from chromium import browser

BASE, TOKEN, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]
PLUGS = json.loads(sys.argv[4])
FAMILIES = json.loads(sys.argv[5])
WAIT = 10


def ask(step, **what):
    print(json.dumps({"step": step, **what}), flush=True)
    answer = json.loads(sys.stdin.readline() or "{}")
    if not answer.get("ok"):
        fail(f"the test said no to {step}: {answer}")
    return answer


def fail(why):
    print(f"FAILED: {why}", file=sys.stderr, flush=True)
    sys.exit(1)


def until(driver, what, check, within=WAIT):
    try:
        return WebDriverWait(driver, within, poll_frequency=0.05).until(lambda d: check(d))
    except Exception:
        fail(f"timed out ({within} s) waiting for: {what}")


def switch_of(driver, name):
    return driver.find_element(By.CSS_SELECTOR, f'button[role="switch"][aria-label="{name}"]')


def shot(driver, name, width):
    driver.set_window_size(width, 900)
    time.sleep(0.3)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 20, 600), 2400))
    time.sleep(0.3)
    driver.save_screenshot(f"{SHOTS}/{name}-{width}.png")
    driver.set_window_size(1280, 900)


def sign_in(driver, token):
    field = until(driver, "the sign-in form", lambda d: d.find_element(By.ID, "token").is_displayed() and d.find_element(By.ID, "token"))
    field.clear()
    field.send_keys(token, Keys.ENTER)


def view_is(name):
    return lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-view") == name


def signing_in(driver, seen):
    driver.get(BASE + "/")
    # A wrong token is refused and shows nothing.
    sign_in(driver, "not-the-token")
    until(driver, "the refusal", lambda d: d.find_element(By.ID, "sign-in-error").text)
    seen["wrong_token_said"] = driver.find_element(By.ID, "sign-in-error").text
    if driver.find_elements(By.CSS_SELECTOR, "article.device"):
        fail("devices shown after a wrong token")
    # The right one shows every device.
    sign_in(driver, TOKEN)
    until(driver, "the device list", view_is("devices"))
    for p in PLUGS + FAMILIES:
        until(driver, f"{p['name']} listed", lambda d: p["name"] in d.find_element(By.ID, "devices").text)
    seen["listed"] = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "article.device h2")]
    seen["sentences"] = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "article.device .sentence")]
    # A fresh load with the session: how long until the devices are on the screen.
    driver.get(BASE + "/")
    until(driver, "the device list again", view_is("devices"))
    seen["render_ms"] = driver.execute_script("return performance.getEntriesByName('devices-shown')[0].startTime")
    paint = driver.execute_script("return performance.getEntriesByType('paint').map(p => [p.name, p.startTime])")
    seen["paint_ms"] = dict(paint)
    shot(driver, "devices", 1280)
    shot(driver, "devices", 390)


def switching(driver, seen):
    # Clicking a switch turns the simulated relay; the page shows it when the plug says so.
    driver.execute_script("window.notReloaded = true")
    plug = PLUGS[0]
    checked = lambda d: switch_of(d, plug["name"]).get_attribute("aria-checked")
    if checked(driver) != "false":
        fail("the switch is not off at first")
    clicked = time.monotonic()
    switch_of(driver, plug["name"]).click()
    ask("clicked", uuid=plug["uuid"], on=True)
    until(driver, "the switch on", lambda d: checked(d) == "true")
    seen["click_to_checked_ms"] = round((time.monotonic() - clicked) * 1000)
    # Switched on the plug itself: shown within 2 s, with no reload.
    pressed = time.monotonic()
    ask("press", uuid=plug["uuid"], on=False)
    until(driver, "the plug's own switch shown", lambda d: checked(d) == "false", within=2)
    seen["press_to_page_ms"] = round((time.monotonic() - pressed) * 1000)
    if not driver.execute_script("return window.notReloaded === true"):
        fail("the page reloaded")
    # The keyboard alone: focus the switch and press space.
    switch_of(driver, plug["name"]).send_keys(Keys.SPACE)
    ask("clicked", uuid=plug["uuid"], on=True)
    until(driver, "the switch on by keyboard", lambda d: checked(d) == "true")
    card = f'article[data-uuid="{plug["uuid"]}"] .sentence'
    seen["sentence_after"] = driver.find_element(By.CSS_SELECTOR, card).text


def metering_page(driver, seen):
    # A metering plug's page draws its power.
    metering = next(p for p in PLUGS if p.get("metering"))
    driver.find_element(By.LINK_TEXT, metering["name"]).click()
    until(driver, "the device page", view_is("device"))
    chart = until(driver, "the power chart", lambda d: d.find_elements(By.CSS_SELECTOR, "svg.chart"))
    seen["chart_points"] = int(chart[0].get_attribute("data-points"))
    seen["chart_drawn"] = len(driver.find_elements(By.CSS_SELECTOR, "svg.chart polyline, svg.chart circle"))
    seen["device_heading"] = driver.find_element(By.CSS_SELECTOR, "#view h1").text
    seen["device_sections"] = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#view section h2") if e.text]
    shot(driver, "device", 1280)
    shot(driver, "device", 390)


def family_pages(driver, seen):
    # Other families' pages show their controls; a garage door's button sends its SET.
    seen["families"] = {}
    for f in FAMILIES:
        driver.get(f"{BASE}/#/device/{f['uuid']}")
        until(driver, f"the page of {f['name']}", lambda d: view_is("device")(d)
              and d.find_element(By.CSS_SELECTOR, "#view h1").text == f["name"])
        got = {"sections": [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#view h3")]}
        if f["kind"] == "light":
            got["sliders"] = len(driver.find_elements(By.CSS_SELECTOR, '#view input[type="range"]'))
        if f["kind"] == "thermostat":
            got["modes"] = len(driver.find_elements(By.CSS_SELECTOR, "#view select option"))
        if f["kind"] == "garage":
            section = driver.find_element(By.XPATH, "//section[h3='Garage door']")
            got["said"] = section.find_element(By.TAG_NAME, "p").text
            section.find_element(By.TAG_NAME, "button").click()
            ask("family", uuid=f["uuid"], namespace="Appliance.GarageDoor.State")
        seen["families"][f["kind"]] = got


def going_offline(driver, seen):
    # A plug that goes away shows as offline at once, and its page says why.
    gone = PLUGS[1]
    driver.get(BASE + "/#/")
    until(driver, "the list", view_is("devices"))
    ask("stop", uuid=gone["uuid"])
    card = f'article[data-uuid="{gone["uuid"]}"]'
    until(driver, "the plug shown offline", lambda d: "offline" in d.find_element(By.CSS_SELECTOR, card).get_attribute("class"))
    seen["offline_sentence"] = driver.find_element(By.CSS_SELECTOR, f"{card} .sentence").text
    seen["offline_switches"] = len(driver.find_elements(By.CSS_SELECTOR, f"{card} [role=switch]"))
    driver.find_element(By.LINK_TEXT, gone["name"]).click()
    until(driver, "why it is offline", lambda d: "Why it is offline" in d.find_element(By.ID, "view").text)
    seen["why_offline"] = driver.find_element(By.CSS_SELECTOR, "#view section.warn").text


STRIP = """
    const done = arguments[0];
    import('/ui/list.js').then(list => {
      const strip = {uuid: 'strip1', display_name: 'Desk strip', online: true, families: {},
        channels: [{channel: 0, on: true, name: null}, {channel: 1, on: false, name: 'Lamp'},
                   {channel: 2, on: true, name: null}]};
      const box = document.createElement('div');
      box.append(...list.mainControls(strip));
      done([...box.querySelectorAll('[role=switch]')].map(b => [b.getAttribute('aria-label'), b.getAttribute('aria-checked')]));
    }, e => done(String(e)));"""


def pairing_and_sign_out(driver, seen):
    # A strip's switches are named after the strip and the outlet (no strip is simulated:
    # the page's own code builds them for one as the API would list it).
    seen["strip_switches"] = driver.execute_async_script(STRIP)
    # The system page says how the daemon is doing.
    driver.get(BASE + "/#/system")
    until(driver, "the system page", view_is("system"))
    seen["system"] = driver.find_element(By.ID, "view").text
    # The add-a-device page fills in the command.
    driver.get(BASE + "/#/add")
    until(driver, "the pairing page", view_is("add"))
    ssid = driver.find_element(By.XPATH, "//label[text()=\"Your Wi-Fi's name\"]/following-sibling::input")
    ssid.send_keys("Home Net")
    seen["pair_command"] = driver.find_element(By.ID, "pair-command").text
    # Signing out ends the session: the page asks for the token, the API says 401.
    driver.find_element(By.ID, "sign-out").click()
    until(driver, "the sign-in form after sign-out", lambda d: d.find_element(By.ID, "sign-in").is_displayed())
    seen["after_sign_out"] = driver.execute_async_script(
        "const done = arguments[0]; fetch('/api/v1/devices').then(r => done(r.status), () => done(0))")
    # Refused sign-ins and signed-out requests log their 401s; nothing else may fail.
    expected = ["/api/v1/session", "/api/v1/devices", "/api/v1/live"]
    seen["console_errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
                              and not any(path in e["message"] for path in expected)]


def main():
    seen = {}
    driver = browser()
    try:
        for step in [signing_in, switching, metering_page, family_pages, going_offline, pairing_and_sign_out]:
            try:
                step(driver, seen)
            except Exception as e:  # a Selenium error: say where, in one line
                fail(f"{step.__name__}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    finally:
        driver.quit()
    print(json.dumps(seen), flush=True)


main()
