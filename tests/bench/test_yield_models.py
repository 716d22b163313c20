"""bench yield's model comparison, the parts that need no LLM: CPU time of a process tree (read
from /proc), a model that is not installed is said in the results, and the table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from robustclap.bench.benchmarks import yield_models
from robustclap.bench.common import SHARED_DATA


def test_tree_cpu_counts_a_live_child():
    """A child that has burned 0.5 s of CPU (its own clock, whatever the machine's load) adds
    at least that much to this process tree's CPU time."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "while time.process_time() < 0.5: pass\n"
         "print('done', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "done"
        child_s = yield_models.tree_cpu_s(child.pid)
        assert child_s >= 0.45
        assert yield_models.tree_cpu_s() >= child_s  # this process's tree includes the child
    finally:
        child.kill()
        child.wait()


def test_markdown_has_one_row_per_model_and_the_quickstart():
    s = {"model": "packaged:m", "captions": 40, "engine_start_s": 20.0, "wall_s": 100.0,
         "cpu_s": 180.0, "tokens_per_llm_s": 150.0, "llm_calls": 200,
         "level1": {"accepted": 20, "captions_with_accepted": 0.4, "calls_per_accepted": 5.0},
         "level2": {"accepted": 2, "captions_with_accepted": 0.05, "calls_per_accepted": 50.0},
         "accepted_per_llm_call": 0.11, "accepted_per_cpu_min": 7.33,
         "accepted_per_wall_min": 13.2}
    q = {"model": "packaged:m", "wall_s": 200.0, "message": "published v1", "accepted": 5,
         "llm_calls": 100, "gate_version": "abc"}
    table = yield_models.markdown([s], [q])
    assert "| packaged:m | 40 | 20.0 | 100.0 | 180.0 | 150.0 | 200 | 20 | 0.4 | 5.0 | 2 |" in table
    assert "| packaged:m | 200.0 | published v1 | 5 | 100 | abc |" in table


@pytest.mark.skipif(not (SHARED_DATA / "clotho").is_dir(), reason="needs ../shared/data")
def test_a_model_that_is_not_installed_is_said_in_the_results(tmp_path: Path):
    res = yield_models.run(tmp_path / "work", models=["packaged:gpt-9"], captions=2,
                           out=tmp_path / "out")
    assert res.metrics["models"] == [] and res.error is None
    assert any("packaged:gpt-9: not measured" in n and "unknown packaged model" in n
               for n in res.notes)
    saved = json.loads((tmp_path / "out" / "yield.json").read_text())
    assert saved["models"] == [] and saved["params"]["gate_version"]
