"""What publish records about the stages, and the readers of a corpus manifest, take the one
stats shape, and still read a manifest written before it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.stage import StageStats, write_stats
from robustclap.corpus.stage_publish import publish_info, stage_info
from robustclap.flows.paraphrase import generation_stats, summary_line


def _round(run_id: str, round_: int, calls: int) -> StageStats:
    return StageStats("generate", "complete", rows_in=4, rows_out=3, rejected=1, wall_s=2.0,
                      counts={"llm_calls": calls, "rows_written": 4},
                      extra={"run_id": run_id, "round": round_, "model": "m",
                             "model_revision": "rev", "prompt_versions": {"1": "p"},
                             "input": "in.csv", "ingest": {"stage": "ingest"},
                             "config": {"api_key": None}})


GATE = StageStats("gate", "complete", rows_in=8, rows_out=2, rejected=6, wall_s=1.0,
                  counts={"regenerate": 3}, extra={"gate_version": "g1", "levels": {}})


def test_publish_info_takes_provenance_from_the_first_round_and_keeps_every_round() -> None:
    info = publish_info([_round("b", 1, 5), _round("a", 0, 7)], GATE, licence="cc-by-4.0")
    assert (info["model"], info["model_revision"], info["gate_version"]) == ("m", "rev", "g1")
    assert info["source"] == {"input": "in.csv", "ingest": {"stage": "ingest"}}
    assert info["rounds"] == 2 and info["license"] == "cc-by-4.0"
    assert [g["extra"]["run_id"] for g in info["generation"]] == ["a", "b"]  # round order
    assert "config" not in info["generation"][0]["extra"]  # it is in generation_manifests/
    assert StageStats.from_dict(info["gate"]).rows_out == 2
    with pytest.raises(RobustclapError, match="no generation run"):
        publish_info([], GATE)


def test_a_corpus_manifest_from_before_stage_stats_still_reads() -> None:
    """Artifacts and the summary line read old flat round entries and new ones alike."""
    new = publish_info([_round("a", 0, 7)], GATE)["generation"][0]
    old = {"run_id": "r0", "round": 1, "llm_calls": 5, "rows_written": 4, "ok_rows": 4,
           "failed_rows": 0, "wall_s": 3.0, "rows_per_s": 1.0}
    published = {"version": 3, "path": "/c/v3", "counts": {"accepted": 2, "pass_rate": 0.5},
                 "generation": [new, old]}
    rounds = generation_stats(published)
    assert [r.counts["llm_calls"] for r in rounds] == [7, 5]
    assert json.loads(summary_line(published))["llm_calls"] == 12


def test_stage_info_reads_the_stage_folders_stats(tmp_path: Path) -> None:
    gen, gate = tmp_path / "gen", tmp_path / "gate"
    (gen / "manifests").mkdir(parents=True)
    gate.mkdir()
    (gen / "captions.parquet").write_bytes(b"")  # only its presence is checked here
    write_stats(_round("r1", 1, 2), gen / "manifests" / "r1.json")
    (gen / "manifests" / "r0.json").write_text(json.dumps(  # an older, flat manifest
        {"run_id": "r0", "round": 0, "model": "old", "llm_calls": 9, "rows_written": 2}))
    write_stats(GATE, gate / "summary.json")
    info = stage_info(gen, gate)
    assert info["model"] == "old" and info["rounds"] == 2 and info["gate_version"] == "g1"
    assert [g["counts"]["llm_calls"] for g in info["generation"]] == [9, 2]
    (gate / "summary.json").write_text("{broken")
    with pytest.raises(RobustclapError, match="cannot read .*summary.json"):
        stage_info(gen, gate)
