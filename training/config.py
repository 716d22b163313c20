"""The training configuration: one YAML file, validated by pydantic before anything runs.

Relative paths are taken relative to the current directory (where `robustclap train` runs).
Unknown keys are errors, so a typo cannot silently fall back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from robustclap.contracts.config import UNSET, load_yaml_model, validate_model
from robustclap.contracts.errors import RobustclapError


class _Strict(BaseModel):
    # NaN and infinity are refused everywhere: an infinite lr or epoch count is never meant
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class DataConfig(_Strict):
    audio_dir: Path
    captions: Path  # a CAPTIONS Parquet file, or a folder of them
    corpus: Path | None = None  # the gate's accepted.parquet, or the folder holding it
    train_splits: list[str] = Field(["train"], min_length=1)
    silence_peak: float = Field(1e-4, ge=0)  # clips whose peak is below this are skipped
    paraphrase_sampling: Literal["uniform", "best"] = "uniform"  # per epoch, or always rank 0
    cache_features: bool = False  # keep features of clips shorter than the window in memory
    num_workers: int = Field(0, ge=0)


class AudioConfig(_Strict):
    truncation: Literal["auto", "rand_trunc", "fusion"] = "auto"  # auto: fusion iff fused model
    padding: Literal["repeatpad", "repeat", "pad"] = "repeatpad"


class LossConfig(_Strict):
    lambda_p1: float = Field(1.0, ge=0)
    lambda_p2: float = Field(1.0, ge=0)
    pairs: list[Literal["audio", "caption"]] = ["audio", "caption"]  # what each view is tied to

    @model_validator(mode="after")
    def _pairs(self) -> LossConfig:
        if not self.pairs or len(set(self.pairs)) != len(self.pairs):
            raise ValueError("loss.pairs must name audio and/or caption, each once")
        return self


class FreezeConfig(_Strict):
    audio: bool = False  # the whole audio tower and its projection (kept in eval mode)
    text_embeddings: bool = False
    text_layers: int = Field(0, ge=0)  # the first N transformer layers of the text tower
    logit_scale: bool = False


class LoraConfig(_Strict):
    r: int = Field(8, ge=1)
    alpha: float = 16.0
    dropout: float = Field(0.05, ge=0, lt=1)
    towers: list[Literal["text", "audio"]] = ["text"]
    modules: list[str] = ["query", "value"]
    train_projections: bool = True  # also train the projection heads (and the logit scale)


class TwoTowerConfig(_Strict):
    """Sizes of a fresh two-tower model (`model: two-tower:aisfx+minilm`); `freeze.audio`
    chooses a frozen audio CNN (its embeddings cached per clip) or its last block trainable."""

    projection_dim: int = Field(256, ge=8)
    max_seconds: float = Field(10.0, gt=0, le=60)  # audio window of the trainable CNN


class OptimConfig(_Strict):
    lr: float = Field(1e-5, gt=0)
    weight_decay: float = Field(0.1, ge=0)
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = Field(1e-6, gt=0)
    warmup_steps: int = Field(100, ge=0)
    min_lr_ratio: float = Field(0.0, ge=0, le=1)  # cosine decays to lr * min_lr_ratio
    grad_accum: int = Field(1, ge=1)
    # lr multiplier for the pretrained towers of a two-tower model (its heads are new)
    pretrained_lr_scale: float = Field(1.0, gt=0, le=1)
    clip_grad_norm: float | None = Field(1.0, gt=0)

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in v):
            raise ValueError(f"each of betas must be in [0, 1), got {list(v)}")
        return v


class TrainConfig(_Strict):
    model: str  # hub id (laion/clap-htsat-unfused), local folder, or two-tower:aisfx+minilm
    out_dir: Path
    data: DataConfig
    audio: AudioConfig = Field(default_factory=AudioConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    freeze: FreezeConfig = Field(default_factory=FreezeConfig)
    lora: LoraConfig | None = None
    two_tower: TwoTowerConfig = Field(default_factory=TwoTowerConfig)
    batch_size: int = Field(32, ge=2)  # per process; contrastive losses need >= 2
    max_steps: int | None = Field(None, ge=1)  # optimiser steps; or give epochs
    epochs: float | None = Field(None, gt=0)
    max_text_len: int = Field(77, ge=8)
    seed: int = 0
    checkpoint_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    log_every: int = Field(10, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on GPU, fp32 on CPU
    progress: bool = True

    @model_validator(mode="after")
    def _length(self) -> TrainConfig:
        if (self.max_steps is None) == (self.epochs is None):
            raise ValueError("give exactly one of max_steps and epochs")
        return self


# Settings a resumed run may change: they do not alter what is computed.
RESUMABLE_CHANGES = {"checkpoint_every", "keep_checkpoints", "log_every", "progress", "device"}


def resume_fingerprint(cfg: TrainConfig) -> dict[str, Any]:
    """The part of the config that must be identical for a resume to continue the same run."""
    dump = cfg.model_dump(mode="json")
    for key in RESUMABLE_CHANGES:
        dump.pop(key, None)
    dump["data"].pop("num_workers", None)
    dump.pop("out_dir", None)
    return dump


def parse_config(raw: dict[str, Any], source: str = "") -> TrainConfig:
    """A mapping (a dumped or hand-built config) → a validated TrainConfig."""
    return validate_model(raw, TrainConfig, "training config", source)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read the YAML file, apply dotted `overrides` (from the CLI or the fine-tune flow; None
    = keep the file's value), validate. A `max_steps` override replaces the file's epochs."""
    overrides = dict(overrides or {})
    if overrides.get("max_steps") is not None:
        overrides["epochs"] = UNSET
    return load_yaml_model(path, TrainConfig, overrides, what="training config")


def check_data_paths(cfg: TrainConfig, audio_dir: Path | None = None,
                     need_corpus: bool = True) -> None:
    """The data folders exist: checked before any model is loaded (a missing folder used to
    surface after the model load, and on an offline machine after a minute of hub retries)."""
    data = cfg.data
    checks = [("data.audio_dir", audio_dir or data.audio_dir, True),
              ("data.captions", data.captions, False)]
    if need_corpus and data.corpus is not None:
        checks.append(("data.corpus", data.corpus, False))
    for name, path, folder in checks:
        path = Path(path)
        if not path.exists():
            raise RobustclapError(f"{name}: {path} does not exist")
        if folder and not path.is_dir():
            raise RobustclapError(f"{name}: {path} is not a folder")
