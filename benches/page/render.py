"""Times merossd's web page in a real headless Chromium: run by `cargo bench --bench page`.

    render.py BASE_URL TOKEN LOADS PAGE_DIR

Signs in once, then loads the page LOADS times with the session and reads, from the
browser's own clock, when the device list was on the screen (the page's `devices-shown`
mark) and the first contentful paint. Prints one JSON line: those times, sorted, and
the page's bytes, raw and gzipped (each file at level 9, as a server would send them).
"""

import gzip
import json
import pathlib
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

# The same browser as the page's test.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tests" / "web"))
from chromium import browser  # noqa: E402

BASE, TOKEN, LOADS, PAGE = sys.argv[1], sys.argv[2], int(sys.argv[3]), pathlib.Path(sys.argv[4])


def shown(driver):
    WebDriverWait(driver, 20, poll_frequency=0.02).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-view") == "devices")


def main():
    driver = browser()
    rendered, painted = [], []
    try:
        driver.get(BASE + "/")
        WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "token").is_displayed())
        driver.find_element(By.ID, "token").send_keys(TOKEN, Keys.ENTER)
        shown(driver)
        for _ in range(LOADS):
            driver.get(BASE + "/")
            shown(driver)
            rendered.append(driver.execute_script("return performance.getEntriesByName('devices-shown')[0].startTime"))
            paint = dict(driver.execute_script("return performance.getEntriesByType('paint').map(p => [p.name, p.startTime])"))
            painted.append(paint.get("first-contentful-paint", 0))
        cards = len(driver.find_elements(By.CSS_SELECTOR, "article.device"))
    finally:
        driver.quit()
    files = [p for p in PAGE.iterdir() if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    gzipped = sum(len(gzip.compress(p.read_bytes(), 9)) for p in files)
    print(json.dumps({"devices_shown_ms": sorted(rendered), "first_paint_ms": sorted(painted),
                      "cards": cards, "bytes": raw, "gzip_bytes": gzipped}), flush=True)


main()
