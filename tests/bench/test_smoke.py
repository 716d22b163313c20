"""One benchmark end to end at a tiny size (about 15 s): memory (generated rows, cached-score
gate, publish, overview in fresh subprocesses). Checks the result's shape, never its speed."""

from __future__ import annotations

from robustclap.bench.registry import BENCHMARKS, run_one


def test_memory_benchmark_smoke(tmp_path) -> None:
    opts = {"repeats": 1, "size": "smoke", "memory_rows": [2_000, 8_000]}
    r = run_one(BENCHMARKS["memory"], opts, tmp_path / "memory")
    assert r.error is None, r.error
    for n in (2_000, 8_000):
        m = r.metrics[f"rows={n}"]
        assert m["candidates"] == n
        assert m["scores_computed"] == 0  # every score came from the warmed cache
        assert m["peak_rss_mib"] > 0
    assert len(r.goals) == 1 and r.goals[0].value is not None
