"""Learned faithfulness decisions: monotone logistic models over the gate's scores.

Two models, fitted on hand-labelled candidates (`robustclap calibrate --format candidates --fit`):
- `meaning`: P(meaning kept) from the meaning signals (sentence similarity, soft word coverage,
  the event alignment, WordNet relations, the structure checks), one model for both levels
  with a level-2 offset: the listener standard is the same at both levels;
- `wording`: P(the wording is right for the level), one model per level (restructured with
  the same words at level 1; restructured and reworded at level 2).

Why monotone: each feature has a direction fixed by the labelling guide (a dropped word never
makes a paraphrase more faithful), and the fit may only choose how much a feature counts, not
its sign. That is what keeps the models from learning quirks of the rows they were fitted on,
which hand-tuned rule stacks did. A candidate is accepted when both probabilities reach the
level's thresholds, which `fit` chooses for a target precision (learned_fit.py).

A model is plain numbers (feature centre, scale, weight, intercept) stored in the gate config,
so the gate version covers it and applying it needs no library.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

Scores = Mapping[str, Any]


def _num(s: Scores, key: str, default: float = 0.0) -> float:
    v = s.get(key)
    return default if v is None else float(v)


def _length_dev(s: Scores) -> float:
    r = _num(s, "length_ratio", 1.0)
    return abs(math.log(r)) if r > 0 else 5.0


@dataclass(frozen=True)
class Feature:
    """A named input: how to read it from a candidate's scores and its direction
    (+1: higher means more likely positive, -1: lower, 0: free)."""

    name: str
    read: Callable[[Scores, int], float]
    sign: int
    doc: str


def _col(name: str, sign: int, doc: str, default: float = 0.0) -> Feature:
    return Feature(name, lambda s, lv: _num(s, name, default), sign, doc)


MEANING_FEATURES: tuple[Feature, ...] = (
    _col("sbert_cos", +1, "sentence similarity"),
    _col("bertscore_f1", +1, "token similarity"),
    _col("cover_caption_min", +1, "weakest caption word's match: something dropped?", 1.0),
    _col("cover_caption_mean", +1, "caption words kept", 1.0),
    _col("cover_candidate_min", +1, "weakest new word's match: something added?", 1.0),
    _col("cover_candidate_mean", +1, "candidate words grounded in the caption", 1.0),
    Feature("any_missing", lambda s, lv: float(_num(s, "align_missing") > 0), -1,
            "some caption word has no match"),
    Feature("any_added", lambda s, lv: float(_num(s, "align_added") > 0), -1,
            "some candidate word has no match"),
    Feature("any_roles", lambda s, lv: float(_num(s, "align_roles") > 0), -1,
            "some source, object, number or attribute moved"),
    _col("align_missing", -1, "caption words with no match"),
    _col("align_added", -1, "candidate words with no match"),
    _col("align_specific", -1, "more specific words (WordNet hyponyms): added detail"),
    _col("align_synonyms", -1, "matches only the word embeddings vouch for"),
    _col("align_synonym_sim", +1, "the weakest such match", 1.0),
    _col("align_roles", -1, "sources, objects, numbers or attributes moved"),
    _col("order_violations", -1, "temporal relations changed"),
    _col("role_swaps", -1, "arguments that exchanged roles"),
    Feature("length_dev", lambda s, lv: _length_dev(s), -1, "|log length ratio|"),
    Feature("level2", lambda s, lv: float(lv == 2), 0, "level-2 offset"),
)
WORDING_FEATURES: dict[int, tuple[Feature, ...]] = {
    1: (
        _col("structure_edit", +1, "structure changed"),
        _col("token_edit", +1, "words moved or changed"),
        Feature("same_content", lambda s, lv: float(bool(s.get("same_content"))), -1,
                "same content words in the same order"),
        _col("content_recall", +1, "caption words kept"),
        _col("content_novelty", -1, "new words"),
        _col("align_synonyms", -1, "words swapped for embedding synonyms"),
        _col("align_wordnet", -1, "words swapped for WordNet synonyms"),
    ),
    2: (
        _col("structure_edit", +1, "structure changed"),
        _col("token_edit", +1, "words moved or changed"),
        Feature("same_content", lambda s, lv: float(bool(s.get("same_content"))), -1,
                "same content words in the same order"),
        _col("content_recall", -1, "caption words kept"),
        _col("content_novelty", +1, "new words"),
        _col("align_wordnet", +1, "words swapped for WordNet synonyms"),
        _col("align_synonyms", +1, "words swapped for embedding synonyms"),
    ),
}


def features_of(features: Sequence[Feature], scores: Scores, level: int) -> np.ndarray:
    return np.array([f.read(scores, level) for f in features], dtype=float)


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic model over named features (standardised inside)."""

    features: tuple[str, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.center)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + self.intercept

    def prob(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(x)))

    def contributions(self, x: np.ndarray) -> dict[str, float]:
        """Each feature's share of the logit against an average candidate (why it decided)."""
        z = (x - np.asarray(self.center)) / np.asarray(self.scale)
        return {n: float(v) for n, v in zip(self.features, z * np.asarray(self.weights),
                                             strict=True)}

    def to_config(self) -> dict[str, Any]:
        return {"intercept": round(self.intercept, 6),
                "features": {n: {"center": round(c, 6), "scale": round(s, 6),
                                 "weight": round(w, 6)}
                             for n, c, s, w in zip(self.features, self.center, self.scale,
                                                   self.weights, strict=True)}}

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> Logistic:
        feats = data["features"]
        names = tuple(feats)
        return cls(names, tuple(float(feats[n]["center"]) for n in names),
                   tuple(float(feats[n]["scale"]) for n in names),
                   tuple(float(feats[n]["weight"]) for n in names), float(data["intercept"]))


def fit_logistic(features: Sequence[Feature], x: np.ndarray, y: np.ndarray,
                 l2: float = 1.0, sample_weight: np.ndarray | None = None) -> Logistic:
    """Logistic regression with each weight's sign fixed by its feature's direction
    (L-BFGS-B with bounds), L2-penalised, classes balanced."""
    y = y.astype(float)
    w = np.ones(len(y)) if sample_weight is None else sample_weight.astype(float)
    pos = y.sum()
    if 0 < pos < len(y):  # balance the classes
        w = w * np.where(y > 0, len(y) / (2 * pos), len(y) / (2 * (len(y) - pos)))
    center = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - center) / scale
    n = z.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        beta, b = theta[:n], theta[n]
        t = z @ beta + b
        p = 1.0 / (1.0 + np.exp(-t))
        eps = 1e-12
        ll = -(w * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))).sum() / w.sum()
        reg = l2 * (beta @ beta) / (2 * len(y))
        g = (w * (p - y)) / w.sum()
        return ll + reg, np.append(z.T @ g + l2 * beta / len(y), g.sum())

    bounds = [(0.0, None) if f.sign > 0 else (None, 0.0) if f.sign < 0 else (None, None)
              for f in features] + [(None, None)]
    res = minimize(loss, np.zeros(n + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    beta = res.x[:n]
    return Logistic(tuple(f.name for f in features), tuple(map(float, center)),
                    tuple(map(float, scale)), tuple(map(float, beta)), float(res.x[n]))


def _catalogue(name: str) -> dict[str, Feature]:
    if name == "meaning":
        return {f.name: f for f in MEANING_FEATURES}
    level = int(name[-1])
    return {f.name: f for f in WORDING_FEATURES[level]}


def check_spec(name: str, weights: Mapping[str, float]) -> None:
    """Refuse a stored model with an unknown feature or a weight against its direction."""
    known = _catalogue(name)
    for feat, w in weights.items():
        if feat not in known:
            raise ValueError(f"learned.{name}: unknown feature {feat!r} "
                             f"(known: {', '.join(known)})")
        sign = known[feat].sign
        if sign * w < 0:
            raise ValueError(f"learned.{name}: weight {w} of {feat!r} goes against its "
                             f"direction ({'+' if sign > 0 else '-'})")


def model_of(name: str, spec: Any) -> tuple[Logistic, tuple[Feature, ...]]:
    """The Logistic of a stored LogisticSpec and the features it reads, in its order."""
    known = _catalogue(name)
    data = spec.model_dump() if hasattr(spec, "model_dump") else spec
    model = Logistic.from_config(data)
    return model, tuple(known[n] for n in model.features)


MEANING_P = "meaning_p"
WORDING_P = "wording_p"
DECISION_NOTE = "decision_note"


def _why(model: Logistic, x: np.ndarray, features: Sequence[Feature], k: int = 3) -> str:
    """The features that pulled the probability down most, e.g. 'align_added=2 (-1.3)'."""
    free = {f.name for f in features if f.sign == 0}  # offsets (the level) are no reason
    parts = sorted(((n, c) for n, c in model.contributions(x).items() if n not in free),
                   key=lambda kv: kv[1])
    docs = {f.name: f.doc for f in features}
    vals = dict(zip(model.features, x, strict=True))
    said = ", ".join(f"{docs[n]} [{n}={vals[n]:.2g}] ({c:+.1f})" for n, c in parts[:k]
                     if c < -0.05)
    return said or "no signal is below an average candidate's; the threshold is above it"


# the models of the config last used, parsed once: `decide` runs for every candidate
_PARSED: dict[str, Any] = {"config": None, "models": {}}


def _models(learned: Any, name: str) -> tuple[Logistic, tuple[Feature, ...]]:
    if _PARSED["config"] is not learned:
        _PARSED["config"], _PARSED["models"] = learned, {}
    models = _PARSED["models"]
    if name not in models:
        models[name] = model_of(name, getattr(learned, name))
    return models[name]


def decide(learned: Any, scores: Scores, level: int) -> dict[str, Any]:
    """P(meaning kept), P(wording right) and a readable note of what decided them."""
    meaning, mf = _models(learned, "meaning")
    wording, wf = _models(learned, f"wording_level{level}")
    xm, xw = features_of(mf, scores, level), features_of(wf, scores, level)
    pm, pw = float(meaning.prob(xm)), float(wording.prob(xw))
    th = learned.thresholds(level)
    notes = []
    if th.meaning is not None and pm < th.meaning:
        notes.append(f"meaning {pm:.2f} < {th.meaning:.2f}: {_why(meaning, xm, mf)}")
    if th.wording is not None and pw < th.wording:
        notes.append(f"level-{level} wording {pw:.2f} < {th.wording:.2f}: {_why(wording, xw, wf)}")
        if pm < 0.5 and not (th.meaning is not None and pm < th.meaning):
            # a wording reject whose meaning is doubtful too: say so, a reviewer reads the note
            notes.append(f"meaning doubtful too ({pm:.2f}): {_why(meaning, xm, mf)}")
    return {MEANING_P: pm, WORDING_P: pw, DECISION_NOTE: "; ".join(notes)}
