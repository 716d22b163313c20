"""The gate and calibrate commands as users call them."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from robustclap.cli import app
from robustclap.cli_options import QUIET_ENV
from robustclap.contracts import progress
from robustclap.contracts.schema import CORPUS, read_table

runner = CliRunner()


def test_gate_and_calibrate_have_help():
    for name, option in (("gate", "--config"), ("calibrate", "--format")):
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert option in result.output


def test_gate_command_writes_the_corpus(generated, gated, tmp_path, monkeypatch):
    out, first = gated
    bars = io.StringIO()  # the progress bars, as a terminal would show them
    monkeypatch.delenv(QUIET_ENV, raising=False)
    monkeypatch.setattr(progress, "Console",
                        lambda **kw: Console(file=bars, force_terminal=True, width=160))
    rules = Path(__file__).resolve().parents[2] / "quality" / "gates-rules.yaml"  # as `gated`
    result = runner.invoke(app, ["gate", "--input", str(generated), "--out", str(tmp_path / "c"),
                                 "--cache-dir", str(out), "--config", str(rules)])
    assert result.exit_code == 0, result.output
    shown = bars.getvalue()
    assert "gate: score" in shown and "pairs/s" in shown and "ETA" in shown
    assert "gate: decide" in shown and f"{first.rows_in}/{first.rows_in}" in shown
    counts = json.loads(result.stdout[result.stdout.index("{"):])
    assert counts["scores_computed"] == 0  # every score came from the shared cache
    assert counts["accepted"] == first.rows_out
    assert read_table(CORPUS, tmp_path / "c" / "accepted.parquet").num_rows == first.rows_out
    for name in ("rejected.parquet", "scores.parquet", "regenerate.parquet", "summary.md",
                 "gate_config.yaml"):
        assert (tmp_path / "c" / name).is_file(), name


def test_user_errors_are_one_clear_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "robustclap", "gate", "--input", str(tmp_path), "--out",
         str(tmp_path / "o")], capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert "no candidate shards" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("gates: {level1: {sbert_min: x}, level2: {}}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "robustclap", "calibrate", "--pairs", str(bad), "--format", "paws",
         "--config", str(bad)], capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert "invalid gate config" in proc.stderr and "Traceback" not in proc.stderr


def _calibrate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "robustclap", "calibrate", *args],
                          capture_output=True, text=True, timeout=300)


def test_calibrate_bad_pair_files_are_one_clear_line(tmp_path):
    latin = tmp_path / "latin1.tsv"
    latin.write_bytes("1\tA caf\u00e9 .\tThe caf\u00e9 .\t1\n".encode("latin-1"))
    proc = _calibrate("--pairs", str(latin), "--format", "paws")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{latin} is not UTF-8 text (byte 7" in proc.stderr
    one_class = tmp_path / "pos.tsv"
    one_class.write_text("1\tA left .\tA went away .\t1\n2\tA broken row\n"
                         "3\tA met B .\tA saw B .\t1\n", encoding="utf-8")
    proc = _calibrate("--pairs", str(one_class), "--format", "paws")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "all 2 labelled pairs are paraphrases (label 1)" in proc.stderr
    assert proc.stdout == ""  # no thresholds suggested


def test_calibrate_refuses_to_replace_its_output(tmp_path):
    report = tmp_path / "report.json"
    report.write_text("{}", encoding="utf-8")
    for flag in ("--out", "--fit"):
        res = runner.invoke(app, ["calibrate", "--pairs", str(tmp_path / "none.tsv"),
                                  "--format", "candidates", flag, str(report)])
        assert res.exit_code != 0 and f"{flag} {report} already exists; pass --overwrite" in str(
            res.exception)
    assert report.read_text(encoding="utf-8") == "{}"
    # with --overwrite the command goes on (and stops at the missing pair file)
    res = runner.invoke(app, ["calibrate", "--pairs", str(tmp_path / "none.tsv"), "--format",
                              "paws", "--out", str(report), "--overwrite"])
    assert "pair file not found" in str(res.exception)
