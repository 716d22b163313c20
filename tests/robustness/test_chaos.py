"""Issue 16, fault injection (short CI version of `robustclap bench chaos`): SIGKILL a run
once in each of generate, gate and publish; after each rerun every (caption, level,
candidate) exists once, every Parquet file reads, `latest` is a complete version and the
accepted corpus equals that of a run that was never killed."""

from __future__ import annotations

from robustclap.bench.benchmarks.chaos import chaos


def test_kill_in_each_phase_then_rerun_loses_nothing(tmp_path):
    out = chaos(tmp_path / "chaos", kills=3, captions=4, seed=1)
    cycles = out["cycles"]
    assert [c["phase"] for c in cycles] == ["generate", "gate", "publish"]
    assert all(c["killed"] for c in cycles), cycles
    assert [c["problems"] for c in cycles] == [[], [], []], cycles
