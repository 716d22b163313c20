"""`robustclap report` writes a self-contained file; `robustclap dashboard` serves the page."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robustclap.cli import app
from robustclap.contracts.errors import RobustclapError
from robustclap.dashboard.app import render

runner = CliRunner()


def test_report_is_self_contained(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.html"
    res = runner.invoke(app, ["report", str(corpus), "--out", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert html.count('<svg class="chart"') >= 13  # pass rates x2, failures, 10 histograms
    assert 'class="threshold"' in html
    assert "Overview (v2)" in html and 'id="retrieval"' in html
    # nothing is fetched: no scripts, stylesheets or images by URL
    assert not re.search(r"<script|<link|<img|src=|https?://(?!www\.w3\.org/2000/svg)", html)


def test_report_of_an_older_version_and_errors(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "v1.html"
    assert runner.invoke(app, ["report", str(corpus), "--out", str(out), "--version", "1"]
                         ).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "Overview (v1)" in html and "No fine-tuning results" in html
    res = runner.invoke(app, ["report", str(tmp_path), "--out", str(out), "--overwrite"])
    assert isinstance(res.exception, RobustclapError)
    assert "no published corpus" in str(res.exception)


def test_report_refuses_to_replace_a_file_without_overwrite(corpus: Path, tmp_path: Path
                                                            ) -> None:
    out = tmp_path / "report.html"
    out.write_text("earlier report", encoding="utf-8")
    res = runner.invoke(app, ["report", str(corpus), "--out", str(out)])
    assert isinstance(res.exception, RobustclapError)
    assert f"--out {out} already exists; pass --overwrite" in str(res.exception)
    assert out.read_text(encoding="utf-8") == "earlier report"
    res = runner.invoke(app, ["report", str(corpus), "--out", str(tmp_path), "--overwrite"])
    assert "is a folder" in str(res.exception)  # a folder is never replaced
    assert runner.invoke(app, ["report", str(corpus), "--out", str(out), "--overwrite"]
                         ).exit_code == 0
    assert "Overview (v2)" in out.read_text(encoding="utf-8")


def test_page_shows_drift_when_comparing(corpus: Path) -> None:
    html = render(corpus, {"version": "2", "compare": "1"})
    assert "Drift v1 → v2" in html and 'id="drift-changes"' in html
    assert 'id="drift-scores"' in html
    with pytest.raises(RobustclapError, match="unknown gate"):
        render(corpus, {"gate": "nonsense"})


def test_dashboard_command_serves_on_localhost(corpus: Path) -> None:
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "robustclap"), "dashboard", str(corpus), "--port", "0"],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        with urllib.request.urlopen(url.group(0) + "?level=1&gate=sbert", timeout=30) as r:
            html = r.read().decode()
        assert r.status == 200 and 'id="examples"' in html
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(url.group(0) + "?version=9", timeout=30)
        assert bad.value.code == 400
    finally:
        proc.terminate()
        proc.wait(timeout=30)
