"""The yield benchmark's round loop on the tiny random model (gibberish: the regeneration rounds
run for real). Checks the numbers' bookkeeping, never a speed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from robustclap.bench.benchmarks.yield_rate import markdown, run_variant
from robustclap.llm.types import Sampling
from robustclap.pipeline.config import GenerateConfig

pytestmark = pytest.mark.slow


def test_rounds_count_calls_and_regenerate_only_what_failed(tmp_path: Path, tiny_llm,
                                                            inprocess_backend):
    from robustclap.quality.config import load_config

    csv = tmp_path / "c.csv"
    pd.DataFrame({"clip_id": ["a", "b", "c"], "split": "train",
                  "caption": ["A dog barks.", "Rain falls on a roof.", "A bell rings twice."]}
                 ).to_csv(csv, index=False)
    cfg = GenerateConfig(model=str(tiny_llm), cache_dir=str(tmp_path / "cache"), candidates=2,
                         sampling=Sampling(max_tokens=24), max_attempts=2)
    rows, accepted = run_variant("v", csv, tmp_path, inprocess_backend, cfg,
                                 load_config(None), rounds=2, n_captions=3)
    by = {(r["round"], r["level"]): r for r in rows}
    assert set(by) == {(0, 1), (0, 2), (1, 1), (1, 2)}  # gibberish: nothing accepted, 2 rounds
    for lv in (1, 2):
        assert 3 * 2 <= by[(0, lv)]["llm_calls"] <= 3 * 2 * 2  # 2 candidates, <= 2 attempts
        assert by[(1, lv)]["llm_calls"] > by[(0, lv)]["llm_calls"]  # round 1 asked again
        assert by[(1, lv)]["completion_tokens"] >= by[(0, lv)]["completion_tokens"]
        assert by[(1, lv)]["captions_with_accepted"] == len(
            set(accepted.loc[accepted["level"] == lv, "caption_id"])) / 3
    assert "| source | variant |" in markdown([{"source": "s", **r} for r in rows])
