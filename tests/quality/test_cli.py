"""The gate and calibrate commands as users call them."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.schema import CORPUS, read_table

runner = CliRunner()


def test_gate_and_calibrate_have_help():
    for name, option in (("gate", "--config"), ("calibrate", "--format")):
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert option in result.output


def test_gate_command_writes_the_corpus(generated, gated, tmp_path):
    out, first = gated
    result = runner.invoke(app, ["gate", "--input", str(generated), "--out", str(tmp_path / "c"),
                                 "--cache-dir", str(out)])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout[result.stdout.index("{"):])
    assert counts["scores_computed"] == 0  # every score came from the shared cache
    assert counts["accepted"] == first.accepted
    assert read_table(CORPUS, tmp_path / "c" / "accepted.parquet").num_rows == first.accepted
    for name in ("rejected.parquet", "scores.parquet", "regenerate.parquet", "summary.md",
                 "gate_config.yaml"):
        assert (tmp_path / "c" / name).is_file(), name


def test_user_errors_are_one_clear_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "gate", "--input", str(tmp_path), "--out",
         str(tmp_path / "o")], capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert "no candidate shards" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("gates: {level1: {sbert_min: x}, level2: {}}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "calibrate", "--pairs", str(bad), "--format", "paws",
         "--config", str(bad)], capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert "invalid gate config" in proc.stderr and "Traceback" not in proc.stderr
