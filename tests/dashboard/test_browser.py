"""The dashboard in a real browser: Debian's headless chromium driven by selenium."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.app import serve_in_thread

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture()
def browser() -> Iterator[object]:
    if not (CHROMIUM and DRIVER):
        pytest.skip("chromium/chromedriver not installed (scripts/install.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="dash-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1400,2400", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _rows(driver, table_id: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]


def test_dashboard_renders_and_filters(browser, corpus: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    server, url = serve_in_thread(corpus)
    try:
        assert url.startswith("http://127.0.0.1:")
        browser.get(url)
        wait = WebDriverWait(browser, 30)
        wait.until(ec.presence_of_element_located((By.ID, "examples")))
        assert "demo v2" in browser.title

        charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
        assert len(charts) >= 13
        # the browser laid the charts out: bars have a real size, thresholds are drawn
        drawn = browser.execute_script(
            "return [...document.querySelectorAll('svg.chart rect.bar')]"
            ".filter(r => r.getBBox().width > 0 && r.getBBox().height > 0).length")
        assert drawn > 100
        assert browser.find_elements(By.CSS_SELECTOR, "#distributions line.threshold")
        assert charts[0].size["width"] > 100 and charts[0].size["height"] > 50

        examples = _rows(browser, "examples-table")
        rejected = _rows(browser, "rejected-table")
        assert len(examples) == 50 and len(rejected) == 50
        all_rejected = browser.find_element(By.ID, "rejected-count").text
        assert browser.find_elements(By.CSS_SELECTOR, "#retrieval tbody tr")

        # filter: level 1 rejected by the SBERT gate, text "rain"
        Select(browser.find_element(By.NAME, "level")).select_by_value("1")
        Select(browser.find_element(By.NAME, "gate")).select_by_value("sbert")
        box = browser.find_element(By.NAME, "q")
        box.send_keys("rain")
        old = browser.find_element(By.ID, "examples-table")
        box.submit()
        wait.until(ec.staleness_of(old))
        wait.until(ec.presence_of_element_located((By.ID, "examples")))

        assert "gate=sbert" in browser.current_url
        filtered = _rows(browser, "rejected-table")
        assert filtered and filtered != rejected
        assert browser.find_element(By.ID, "rejected-count").text != all_rejected
        cells = browser.find_elements(By.CSS_SELECTOR, "#rejected-table tbody tr td:nth-child(8)")
        assert cells and all("sbert" in c.text for c in cells)
        levels = browser.find_elements(By.CSS_SELECTOR, "#rejected-table tbody tr td:nth-child(3)")
        assert {c.text for c in levels} == {"1"}
        side = _rows(browser, "examples-table")
        assert side != examples and all("rain" in r.lower() for r in side)

        # drift: compare with v1 (the filters stay in the form)
        assert not browser.find_elements(By.ID, "drift")
        Select(browser.find_element(By.NAME, "compare")).select_by_value("1")
        old = browser.find_element(By.ID, "examples-table")
        browser.find_element(By.CSS_SELECTOR, "#filters button").click()
        wait.until(ec.staleness_of(old))
        wait.until(ec.presence_of_element_located((By.ID, "drift")))
        assert "Drift v1 → v2" in browser.find_element(By.ID, "drift").text
        assert _rows(browser, "drift-changes") and _rows(browser, "drift-scores")
        assert "gate=sbert" in browser.current_url and "compare=1" in browser.current_url

        shot = tmp_path / "dashboard.png"
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        server.shutdown()
        server.server_close()
