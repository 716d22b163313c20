"""Sampling and candidates per model and level: the run's `sampling`, then a packaged model's
measured defaults, then `level_sampling`; what each level used reaches the requests, the rows
and the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from robustclap.contracts.schema import CANDIDATES, col, read_dir
from robustclap.llm.model_ref import ModelRef
from robustclap.llm.types import LLMResponse, Sampling
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.level_sampling import level_plans
from robustclap.pipeline.runner import run_generate

QWEN = "packaged:qwen2.5-coder-1.5b-instruct"
SMOL = "packaged:smollm2-135m-instruct"
RUN_SAMPLING = Sampling(temperature=0.8, top_p=0.95, max_tokens=96)


def test_default_model_uses_the_run_sampling_on_both_levels():
    cfg = GenerateConfig(model=SMOL, candidates=2, sampling=RUN_SAMPLING)
    plans = level_plans(cfg)
    assert {lv: (p.sampling, p.candidates, p.origin) for lv, p in plans.items()} == {
        1: (RUN_SAMPLING, 2, "config"), 2: (RUN_SAMPLING, 2, "config")}


def test_qwen_level2_is_greedy_with_one_candidate_unless_the_config_says_otherwise():
    cfg = GenerateConfig(model=QWEN, candidates=2, sampling=RUN_SAMPLING)
    plans = level_plans(cfg)
    assert (plans[1].sampling, plans[1].candidates, plans[1].origin) == (
        RUN_SAMPLING, 2, "config")  # level 1 keeps the run's sampling
    p2 = plans[2]
    assert (p2.sampling.temperature, p2.sampling.top_p, p2.candidates) == (0.0, 1.0, 1)
    assert p2.sampling.max_tokens == 96 and p2.origin == f"model {QWEN}"
    over = GenerateConfig(model=QWEN, candidates=2, sampling=RUN_SAMPLING,
                          level_sampling={1: {"temperature": 0.0, "candidates": 1},
                                          2: {"temperature": 0.5}})
    plans = level_plans(over)
    assert (plans[1].sampling.temperature, plans[1].candidates) == (0.0, 1)
    assert (plans[2].sampling.temperature, plans[2].candidates) == (0.5, 1)
    assert plans[1].origin == plans[2].origin == "level_sampling"
    off = GenerateConfig(model=QWEN, candidates=2, sampling=RUN_SAMPLING, model_sampling=False)
    assert all(p.sampling == RUN_SAMPLING and p.candidates == 2
               for p in level_plans(off).values())


def test_level_sampling_keys_are_levels():
    with pytest.raises(ValidationError, match="levels 1 or 2"):
        GenerateConfig(level_sampling={3: {"temperature": 0.1}})
    with pytest.raises(ValidationError):
        GenerateConfig(level_sampling={1: {"temprature": 0.1}})  # a typo is an error


class Recording:
    """Answers every request with a valid reply and keeps (sampling, messages) of each."""

    def __init__(self) -> None:
        self.asked: list = []

    def generate(self, requests, on_result) -> None:
        for i, req in enumerate(requests):
            self.asked.append(req)
            on_result(i, LLMResponse('{"paraphrase": "a dog barks twice"}', "stop", 10, 5))

    def close(self) -> None:
        return None


def test_plans_reach_requests_rows_and_manifest(tmp_path: Path):
    """Level 1 from level_sampling (0.7, 3 candidates), level 2 from the model (greedy, 1)."""
    captions = tmp_path / "captions.csv"
    captions.write_text("clip_id,split,caption\na,train,A dog barks.\nb,train,Rain falls.\n")
    cfg = GenerateConfig(model=QWEN, backend="inprocess", candidates=2, sampling=RUN_SAMPLING,
                         level_sampling={1: {"temperature": 0.7, "candidates": 3}},
                         cache_dir=str(tmp_path / "cache"), shard_size=8, max_attempts=1)
    ref = ModelRef("unused-path", "parts==0.2.0@sha256:x", None, QWEN)  # no model is loaded
    backend = Recording()
    stats = run_generate(captions, tmp_path / "out", cfg, backend=backend, model=ref)
    temps = sorted(r.sampling.temperature for r in backend.asked)
    assert temps == [0.0] * 2 + [0.7] * 6  # 2 captions x (1 greedy + 3 sampled)
    df = read_dir(CANDIDATES, tmp_path / "out" / "candidates").to_pandas()
    assert df.groupby(col.level)[col.candidate].apply(sorted).to_dict() == {
        1: [0, 0, 1, 1, 2, 2], 2: [0, 0]}
    row_sampling = {lv: set(g[col.sampling]) for lv, g in df.groupby(col.level)}
    assert {lv: [json.loads(s)["temperature"] for s in v] for lv, v in row_sampling.items()} \
        == {1: [0.7], 2: [0.0]}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    levels = manifest["extra"]["levels"]  # StageStats: the run's provenance is in extra
    assert levels["2"] == {"temperature": 0.0, "top_p": 1.0, "max_tokens": 96,
                           "candidates": 1, "origin": f"model {QWEN}"}
    assert levels["1"] == {"temperature": 0.7, "top_p": 0.95, "max_tokens": 96,
                           "candidates": 3, "origin": "level_sampling"}
    assert stats.counts["llm_calls"] == 8
