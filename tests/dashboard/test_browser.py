"""The dashboard in a real browser: Debian's headless chromium driven by selenium."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from robustclap.dashboard.app import serve_in_thread

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


def _loaded(wait) -> None:  # noqa: ANN001 - a WebDriverWait
    """The new page is parsed to the end (a busy machine serves it slowly)."""
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def _gone(old):  # noqa: ANN001, ANN202 - a WebElement; a wait condition
    """Like selenium's staleness_of, but a page replaced mid-check is gone too: Chrome then
    answers "Node with given id does not belong to the document" instead of a stale-element
    error (seen once in CI on a loaded machine)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    def check(_driver) -> bool:  # noqa: ANN001
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    return check


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
        _loaded(wait)
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
        wait.until(_gone(old))
        wait.until(ec.presence_of_element_located((By.ID, "examples")))
        _loaded(wait)

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
        wait.until(_gone(old))
        wait.until(ec.presence_of_element_located((By.ID, "drift")))
        _loaded(wait)
        assert "Drift v1 → v2" in browser.find_element(By.ID, "drift").text
        assert _rows(browser, "drift-changes") and _rows(browser, "drift-scores")
        assert "gate=sbert" in browser.current_url and "compare=1" in browser.current_url

        shot = tmp_path / "dashboard.png"
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        server.shutdown()
        server.server_close()


def test_dashboard_review_tools(browser, corpus: Path, tmp_path: Path) -> None:
    """Why a row failed: candidates of one caption with each gate's verdict, scores beside
    limits, paging, CSV of every filtered row, filters reaching the charts, axis titles."""
    import csv
    import io
    import os
    import re
    import urllib.request

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    server, url = serve_in_thread(corpus)
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 30)
        wait.until(ec.presence_of_element_located((By.ID, "examples")))
        _loaded(wait)
        prov = browser.find_element(By.ID, "provenance").text
        assert "synthetic-llm" in prov and "level 1: p1" in prov and "synthetic0001" in prov
        n_charts = len(browser.find_elements(By.CSS_SELECTOR, "svg.chart"))
        hist = browser.find_elements(By.CSS_SELECTOR, "#distributions svg.chart")
        assert hist
        for svg in hist:  # readable axes: both titles and at least five ticks
            titles = [t.text for t in svg.find_elements(By.CSS_SELECTOR, "text.axis-title")]
            assert len(titles) == 2 and "candidates per bin" in titles
            assert len(svg.find_elements(By.CSS_SELECTOR, "text.tick")) >= 5

        # scores beside their limits, the failing one marked
        first = browser.find_elements(By.CSS_SELECTOR, "#rejected-table tbody tr")[0]
        cells = first.find_elements(By.TAG_NAME, "td")
        assert "limit" in cells[-1].text
        cid, level, cand, reason = cells[0].text, cells[2].text, cells[3].text, cells[6].text
        assert browser.find_elements(By.CSS_SELECTOR, "#rejected-table span.num.fail")

        # paging
        pager = browser.find_element(By.ID, "rejected-count").text
        total = int(re.search(r"of ([\d,]+)", pager).group(1).replace(",", ""))
        assert pager.startswith("1–50 of") and total > 50
        page1 = _rows(browser, "rejected-table")
        browser.find_element(By.CSS_SELECTOR, "#rejected-count a.next").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "rejected-count"), "51–"))
        assert "rpage=1" in browser.current_url
        assert _rows(browser, "rejected-table") != page1

        # CSV: every filtered row, with scores
        link = browser.find_element(By.ID, "rejected-csv").get_attribute("href")
        with urllib.request.urlopen(link, timeout=30) as r:
            rows = list(csv.DictReader(io.StringIO(r.read().decode("utf-8"))))
        assert len(rows) == total and rows[0]["sbert_cos"] and rows[0]["reason"]
        gate_link = url + "rejected.csv?level=1&gate=sbert"
        with urllib.request.urlopen(gate_link, timeout=30) as r:
            some = list(csv.DictReader(io.StringIO(r.read().decode("utf-8"))))
        assert 0 < len(some) < total
        assert all(x["level"] == "1" and "sbert" in x["failed_gates"] for x in some)

        # every candidate of one caption, with each gate's verdict
        browser.back()
        wait.until(ec.text_to_be_present_in_element((By.ID, "rejected-count"), "1–50"))
        browser.find_element(By.CSS_SELECTOR, "#rejected-table a.caption-link").click()
        wait.until(ec.presence_of_element_located((By.ID, "caption-view")))
        _loaded(wait)
        assert cid in browser.find_element(By.ID, "caption-view").text
        cands = _rows(browser, "candidates-table")
        assert len(cands) == 4  # 2 levels x 2 candidates
        heads = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#verdicts-table th")]
        col_i = heads.index(f"L{level} #{cand}") + 1
        verdict = browser.find_element(
            By.XPATH, f"//table[@id='verdicts-table']//tr[td[1]='{reason}']/td[{col_i}]")
        assert verdict.text == "✗"
        assert browser.find_elements(By.CSS_SELECTOR, "#verdicts-table span.pass")

        # examples per failing gate, each linking to its filtered rows
        assert browser.find_elements(By.CSS_SELECTOR, "#failing h3")
        assert browser.find_elements(By.CSS_SELECTOR, "#failing-sbert-table tbody tr")

        # filters reach the charts: level 1 only leaves no level-2 chart
        browser.get(url + "?level=1")
        wait.until(ec.presence_of_element_located((By.ID, "filtered-note")))
        _loaded(wait)
        labels = [s.get_attribute("aria-label")
                  for s in browser.find_elements(By.CSS_SELECTOR, "svg.chart")]
        assert not [x for x in labels if "level 2" in x]
        assert len(labels) < n_charts

        shot = tmp_path / "dashboard-review.png"
        browser.get(url + f"?caption={cid}")
        wait.until(ec.presence_of_element_located((By.ID, "caption-view")))
        _loaded(wait)
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        keep = os.environ.get("ROBUSTCLAP_SCREENSHOT_DIR")
        if keep:  # to look at the page by eye
            shutil.copy(shot, Path(keep) / shot.name)
    finally:
        server.shutdown()
        server.server_close()
