"""`python -m robustclap.dashboard.bench_overview` (typer, like every command) on a small
corpus."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from robustclap.dashboard.bench_overview import main


def test_bench_overview_times_every_step(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(main)
    res = CliRunner().invoke(app, [str(tmp_path / "c"), "--rows", "400", "--repeat", "1",
                                   "--compare"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["candidate_rows"] == 400
    for key in ("overview_s", "full_page_s", "full_page_filtered_s", "full_page_with_drift_s"):
        assert len(out[key]) == 1 and out[key][0] > 0
    assert CliRunner().invoke(app, [str(tmp_path / "c"), "--rows", "2"]).exit_code == 2
