"""`robustclap bench --help` names every benchmark the registry knows."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from robustclap.bench.registry import BENCHMARKS
from robustclap.cli import app


def test_bench_help_lists_every_benchmark() -> None:
    res = CliRunner().invoke(app, ["bench", "--help"], env={"COLUMNS": "300"}, color=False)
    assert res.exit_code == 0, res.output
    text = re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", res.output))
    listed = re.search(r"default: ([^;]*); asked by name only: ([^)]*)\)", text)
    assert listed, text
    default = [n.strip() for n in listed.group(1).split(",")]
    asked = [n.strip() for n in listed.group(2).split(",")]
    assert sorted(default + asked) == sorted(BENCHMARKS)
    assert {"yield", "method", "cpu_dtype", "chaos"} <= set(asked)
    assert all(BENCHMARKS[n].default for n in default)
