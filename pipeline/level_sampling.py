"""Sampling and candidates per level: the run's `sampling`, then the packaged model's measured
per-level defaults, then the config's `level_sampling` (each overrides the one before).

Why per model and level: the packaged Qwen2.5-Coder-1.5B's level-2 rewrites add things the
caption does not have at temperature 0.8 and far less greedily, while its greedy level-1
rewrites are near-copies (measured, see robustclap/llm/packaged.py); SmolLM2-135M is better
sampled on both levels. A greedy level asks one candidate (a second one would be the same
text). What each level used is in the generation manifest (`extra.levels`) and every row.
"""

from __future__ import annotations

from dataclasses import dataclass

from robustclap.llm.packaged import is_packaged, lookup
from robustclap.llm.types import Sampling
from robustclap.pipeline.config import GenerateConfig


@dataclass(frozen=True)
class LevelPlan:
    sampling: Sampling
    candidates: int
    origin: str  # "config", "model <name>" or "level_sampling" (the last that changed it)

    def to_dict(self) -> dict:
        return {**self.sampling.model_dump(), "candidates": self.candidates,
                "origin": self.origin}


def model_level_sampling(model: str) -> dict[int, dict]:
    """The measured per-level defaults of a packaged model ({} for any other model)."""
    return dict(lookup(model).level_sampling) if is_packaged(model) else {}


def level_plans(cfg: GenerateConfig, model: str | None = None) -> dict[int, LevelPlan]:
    """One plan per level of `cfg` for `model` (by default cfg.model: the name --model gave)."""
    defaults = model_level_sampling(model or cfg.model) if cfg.model_sampling else {}
    plans: dict[int, LevelPlan] = {}
    for lv in cfg.levels:
        values = {"temperature": cfg.sampling.temperature, "top_p": cfg.sampling.top_p,
                  "candidates": cfg.candidates}
        origin = "config"
        for source, over in ((f"model {model or cfg.model}", defaults.get(lv) or {}),
                             ("level_sampling", _set(cfg.level_sampling.get(lv)))):
            if over:
                values.update(over)
                origin = source
        sampling = Sampling(temperature=values["temperature"], top_p=values["top_p"],
                            max_tokens=cfg.sampling.max_tokens)
        plans[lv] = LevelPlan(sampling, int(values["candidates"]), origin)
    return plans


def _set(over) -> dict:
    return over.model_dump(exclude_none=True) if over is not None else {}
