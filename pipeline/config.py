"""Generation settings: one validated model, from a YAML file and/or CLI flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

from robustclap.contracts.config import load_yaml_model
from robustclap.llm.settings import LLMSettings
from robustclap.llm.types import Sampling
from robustclap.pipeline.ingest import ColumnMapping

# The order a dump (the manifest's `config`) has always had: LLMSettings' fields come first in
# the class, so a dump is put back in this order and manifests stay byte for byte the same.
DUMP_ORDER = (
    "model", "revision", "backend", "base_url", "api_key", "api_key_env", "candidates", "levels",
    "level2_source", "sampling", "level_sampling", "model_sampling", "max_attempts", "feedback",
    "structured_output", "shard_size", "concurrency", "request_timeout_s", "max_retries",
    "chunk_size", "engine_args", "server_start_timeout_s", "prompt_dir", "cache_dir",
)


class IngestConfig(BaseModel):
    """How the ingest stage reads a caption file (a run config's keys of the same names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: str = "auto"  # FORMATS; ingest itself names a wrong one
    caption_col: str = "caption"  # generic CSV / JSONL / Parquet column mapping
    clip_col: str = "clip_id"
    split_col: str | None = None
    split: str | None = None  # split for every row (default: from the file name)
    max_clips: int | None = None  # only the first N clips

    def mapping(self) -> ColumnMapping:
        return ColumnMapping(self.caption_col, self.clip_col, self.split_col)


class LevelSampling(BaseModel):
    """Per-level overrides of `sampling` and `candidates` (unset fields keep the run's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    candidates: int | None = Field(None, ge=1, le=64)


class GenerateConfig(LLMSettings):
    """The generation stage's settings: how it reaches the LLM (LLMSettings) and what it asks."""

    candidates: int = Field(1, ge=1, le=64)
    levels: list[int] = [1, 2]
    # Level 2 from the original (default): both levels are independent views of the caption and
    # errors of level 1 cannot leak into level 2. "level1" paraphrases the level-1 output.
    level2_source: Literal["original", "level1"] = "original"
    sampling: Sampling = Sampling()
    # Per level, over `sampling`/`candidates`; a packaged model's measured per-level sampling
    # comes first unless `model_sampling` is false (pipeline/level_sampling.py, in manifests).
    level_sampling: dict[int, LevelSampling] = {}
    model_sampling: bool = True
    max_attempts: int = Field(3, ge=1, le=20)
    # Regeneration rounds show the model its rejected rewrite and what the gate found in it.
    feedback: bool = True
    structured_output: bool = True
    shard_size: int = Field(256, ge=1)
    prompt_dir: str | None = None

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[int]) -> list[int]:
        if not v or any(lv not in (1, 2) for lv in v):
            raise ValueError("levels must be a non-empty subset of [1, 2]")
        return sorted(set(v))

    @field_validator("level_sampling")
    @classmethod
    def _level_keys(cls, v: dict[int, LevelSampling]) -> dict[int, LevelSampling]:
        if any(lv not in (1, 2) for lv in v):
            raise ValueError("level_sampling keys must be levels 1 or 2")
        return v

    @model_serializer(mode="wrap")
    def _in_dump_order(self, handler):  # noqa: ANN001, ANN202 - pydantic's serializer hook
        data = handler(self)
        return {k: data[k] for k in DUMP_ORDER if k in data} | data


def load_config(path: str | Path | None, overrides: dict) -> GenerateConfig:
    """YAML file (optional; a run config's `generate:` section counts) + dotted overrides
    (None = keep; `sampling.temperature` for sampling) → a validated config, or a clear error."""
    return load_yaml_model(path, GenerateConfig, overrides, what="generation config",
                           section="generate")
