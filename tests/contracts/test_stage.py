"""The stage contract's one stats shape: round trip, refusals, and files older than it."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.stage import (
    STATS_VERSION,
    StageStats,
    read_stats,
    total,
    write_stats,
)

GEN = StageStats("generate", "complete", rows_in=10, rows_out=8, rejected=2, wall_s=1.5,
                 counts={"llm_calls": 12, "rows_per_s": 4.2, "tokens_per_s": None},
                 extra={"run_id": "r1", "round": 0, "fail_reasons": {"truncated": 2}})


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    text = write_stats(GEN, a, b)
    assert a.read_text() == b.read_text() == text
    d = json.loads(text)
    assert d["stats_version"] == STATS_VERSION and d["stage"] == "generate"
    assert read_stats(a) == GEN == StageStats.from_dict(GEN.to_dict())


def test_stats_are_frozen_and_own_their_dicts() -> None:
    counts = {"llm_calls": 1}
    s = StageStats("gate", "complete", 1, 1, 0, 0.1, counts=counts)
    counts["llm_calls"] = 99
    assert s.counts["llm_calls"] == 1
    with pytest.raises(AttributeError):
        s.rows_in = 5  # type: ignore[misc]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rows_in": 10, "rows_out": 8, "rejected": 1}, "rows were lost"),
    ({"rows_in": -1, "rows_out": -1, "rejected": 0}, "rows_in must be a count"),
    ({"rejected": True}, "rejected must be a count"),
    ({"status": "running"}, "status 'running'"),
    ({"stage": ""}, "stage must be a name"),
    ({"wall_s": float("nan")}, "wall_s must be seconds"),
    ({"wall_s": -1.0}, "wall_s must be seconds"),
    ({"counts": {"x": "3"}}, "counts must map names to numbers"),
    ({"counts": {"x": True}}, "counts must map names to numbers"),
])
def test_bad_stats_are_refused(kwargs: dict, message: str) -> None:
    base = {"stage": "gate", "status": "complete", "rows_in": 3, "rows_out": 2,
            "rejected": 1, "wall_s": 0.5}
    with pytest.raises(RobustclapError, match=message):
        StageStats(**{**base, **kwargs})


def test_unreadable_files_are_one_message(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    with pytest.raises(RobustclapError, match="cannot read .*m.json"):
        read_stats(bad)
    bad.write_text(json.dumps({**GEN.to_dict(), "stats_version": STATS_VERSION + 1}))
    with pytest.raises(RobustclapError, match="newer than this robustclap reads"):
        read_stats(bad)
    bad.write_text(json.dumps({k: v for k, v in GEN.to_dict().items() if k != "rows_out"}))
    with pytest.raises(RobustclapError, match="m.json: generate stats: missing rows_out"):
        read_stats(bad)
    bad.write_text(json.dumps({"llm_calls": 3}))
    with pytest.raises(RobustclapError, match="no 'stage' field"):
        read_stats(bad)  # without naming the stage, an old flat file is not guessed
    bad.write_text("[]")
    with pytest.raises(RobustclapError, match="expected a JSON object"):
        read_stats(bad)


def test_a_flat_generation_manifest_still_loads() -> None:
    """The manifest.json that run_generate wrote before StageStats (keys at the top level)."""
    old = {"run_id": "2026-r", "status": "incomplete", "model": "tiny", "round": 1,
           "llm_calls": 7, "rows_written": 6, "rows_skipped": 4, "ok_rows": 5,
           "failed_rows": 1, "wall_s": 12.5, "rows_per_s": 0.5, "tokens_per_s": None,
           "fail_reasons": {"truncated": 1}, "ingest": {"captions": 3}}
    s = StageStats.from_dict(old, legacy="generate")
    assert (s.stage, s.status, s.rows_in, s.rows_out, s.rejected, s.wall_s) == (
        "generate", "incomplete", 6, 5, 1, 12.5)
    assert s.counts["llm_calls"] == 7 and s.counts["rows_skipped"] == 4
    assert s.counts["tokens_per_s"] is None
    assert s.extra["run_id"] == "2026-r" and s.extra["fail_reasons"] == {"truncated": 1}
    assert "status" not in s.extra and "wall_s" not in s.counts
    # the short round entries an old corpus manifest lists (no ok_rows, no wall time)
    short = StageStats.from_dict({"run_id": "r0", "rows_written": 4}, legacy="generate")
    assert (short.rows_in, short.rows_out, short.wall_s) == (4, 4, None)


def test_an_old_gate_summary_still_loads() -> None:
    old = {"gate_version": "abc", "counts": {"candidates": 10, "accepted": 3, "rejected": 7,
                                             "captions": 4, "regenerate": 2},
           "levels": {"1": {"candidates": 10}}, "quantiles": {}}
    s = StageStats.from_dict(old, legacy="gate")
    assert (s.rows_in, s.rows_out, s.rejected, s.wall_s) == (10, 3, 7, None)
    assert s.counts == {"captions": 4, "regenerate": 2}
    assert s.extra["gate_version"] == "abc" and s.extra["levels"]["1"]["candidates"] == 10
    partial = StageStats.from_dict({"gate_version": "g", "counts": {"candidates": 5,
                                                                    "accepted": 2}},
                                   legacy="gate")
    assert (partial.rows_in, partial.rows_out, partial.rejected) == (5, 2, 3)


def test_total_sums_rounds_and_treats_missing_as_zero() -> None:
    old = StageStats.from_dict({"rows_written": 4, "llm_calls": 2}, legacy="generate")
    assert total([GEN, old], "llm_calls") == 14
    assert total([GEN, old], "wall_s") == 1.5  # the old round has no wall time
    assert total([GEN, old], "rows_in") == 14 and total([], "llm_calls") == 0


def test_every_stage_returns_the_one_shape() -> None:
    """The stage entry points are typed to return StageStats (the contract's return)."""
    from robustclap.pipeline.runner import run_generate, run_generation, run_ingest
    from robustclap.quality.gate import run_gate
    from robustclap.training.train import train

    for fn in (run_ingest, run_generation, run_generate, run_gate, train):
        assert inspect.signature(fn).return_annotation in ("StageStats", StageStats), fn


def test_every_stage_has_the_run_contract() -> None:
    """ingest, generate and gate are `run(inputs, out, config) -> StageStats` (the Stage
    protocol's order): three positional parameters, the third a validated config object;
    whatever else a stage takes is optional or keyword-only (the run's resources, which the
    caller owns: engine, model, sharding, progress)."""
    import typing

    from pydantic import BaseModel

    from robustclap.pipeline.runner import run_generation, run_ingest
    from robustclap.quality.gate import run_gate

    for fn in (run_ingest, run_generation, run_gate):
        params = list(inspect.signature(fn).parameters.values())
        assert [p.kind for p in params[:3]] == [inspect.Parameter.POSITIONAL_OR_KEYWORD] * 3, fn
        assert [p.name for p in params[:3]] in (["inputs", "out", "config"],
                                                ["input_dir", "out_dir", "config"]), fn
        assert all(p.default is not inspect.Parameter.empty
                   or p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[3:]), fn
        hints = typing.get_type_hints(fn)
        assert issubclass(hints["config"], BaseModel), fn
        assert hints["return"] is StageStats, fn
