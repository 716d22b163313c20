"""Fitting the learned gate on labelled candidates, and measuring it out of sample.

One procedure, `fit_learned`, turns labelled rows into a `learned` config section:
1. the hard rules (identical, meta text, echo, lists, extra sentences, definitions,
   fragments, non-English, repetition, length, near-copies, numbers, negation, and the
   level-1 alignment limits) reject what they reject; the models are fitted on the rest;
2. the meaning model (both levels) and one wording model per level are fitted
   (learned.fit_logistic: monotone, classes balanced);
3. the thresholds of each level are chosen on OUT-OF-FOLD predictions of the fitting rows
   (grouped by caption), for the highest recall of good rows whose precision of meaning kept
   and of good reach the targets plus `fit_margin` in EVERY labelled set; a level where no
   threshold does takes the most precise setting that keeps `fallback_min_recall` of its
   good rows, and the report says so.

`cross_validate` measures that procedure honestly: grouped K-fold (no caption in both the
fitting and the tested part) and leave-one-set-out (fit on the other generators' rows, test on
this one's); the shipped config's own in-sample figures come beside them, never instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from robustclap.quality.calibrate_candidates import Labelled, level_report
from robustclap.quality.config import GateConfig, LearnedConfig, LevelThresholds
from robustclap.quality.decide import apply_learned, failed_gates
from robustclap.quality.learned import (
    MEANING_FEATURES,
    WORDING_FEATURES,
    features_of,
    fit_logistic,
)

GRID = tuple(round(x, 3) for x in np.arange(0.05, 0.99, 0.025))
RECALL_GOALS = {1: 0.80, 2: 0.60}  # issue 22: recall of good rows on a strong model's output


@dataclass
class Table:
    """Labelled rows with what the procedure needs, as arrays."""

    rows: list[Labelled]
    scores: list[dict[str, Any]]
    hard: np.ndarray  # rejected by a hard rule
    level: np.ndarray
    meaning: np.ndarray
    wording: np.ndarray
    good: np.ndarray
    source: np.ndarray
    groups: np.ndarray  # caption text: the unit of every split
    synthetic: np.ndarray  # mismatched pairs: meaning negatives for fitting only
    xm: np.ndarray
    xw: dict[int, np.ndarray]


def without_learned(config: GateConfig) -> GateConfig:
    return config.model_copy(update={"learned": config.learned.model_copy(
        update={"enabled": False})})


def table(rows: Sequence[Labelled], scores: Sequence[dict[str, Any]], config: GateConfig
          ) -> Table:
    rules = without_learned(config)
    hard = np.array([bool(failed_gates(s, rules, r.level)) for r, s in
                     zip(rows, scores, strict=True)])
    return Table(
        list(rows), list(scores), hard, np.array([r.level for r in rows]),
        np.array([r.meaning_ok for r in rows]), np.array([r.level_ok for r in rows]),
        np.array([r.good for r in rows]), np.array([r.source for r in rows]),
        np.array([r.caption for r in rows]), np.array([r.synthetic for r in rows]),
        np.stack([features_of(MEANING_FEATURES, s, r.level) for r, s in
                  zip(rows, scores, strict=True)]),
        {lv: np.stack([features_of(WORDING_FEATURES[lv], s, lv) for s in scores])
         for lv in (1, 2)},
    )


def _fit_models(t: Table, idx: np.ndarray, l2: float) -> dict[str, Any]:
    idx = idx[~t.hard[idx]]
    out = {"meaning": fit_logistic(MEANING_FEATURES, t.xm[idx], t.meaning[idx], l2)}
    idx = idx[~t.synthetic[idx]]
    for lv in (1, 2):
        part = idx[t.level[idx] == lv]
        out[f"wording_level{lv}"] = fit_logistic(WORDING_FEATURES[lv], t.xw[lv][part],
                                                 t.wording[part], l2)
    return out


def _predict(t: Table, models: dict[str, Any], idx: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    pm = models["meaning"].prob(t.xm[idx])
    pw = np.zeros(len(idx))
    for lv in (1, 2):
        mask = t.level[idx] == lv
        if mask.any():
            pw[mask] = models[f"wording_level{lv}"].prob(t.xw[lv][idx[mask]])
    return pm, pw


def _folds(groups: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Positions of each fold: whole captions, shuffled with the seed, sizes balanced."""
    uniq = np.unique(groups)
    rng = np.random.default_rng(seed)
    rng.shuffle(uniq)
    fold_of = {g: i % k for i, g in enumerate(uniq)}
    labels = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(labels == i) for i in range(k)]


def _out_of_fold(t: Table, idx: np.ndarray, k: int, seed: int, l2: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    pm, pw = np.zeros(len(t.rows)), np.zeros(len(t.rows))
    for test in _folds(t.groups[idx], k, seed):
        test_idx = idx[test]
        train_idx = np.setdiff1d(idx, test_idx)
        a, b = _predict(t, _fit_models(t, train_idx, l2), test_idx)
        pm[test_idx], pw[test_idx] = a, b
    return pm, pw


def _choose(t: Table, idx: np.ndarray, pm: np.ndarray, pw: np.ndarray, level: int,
            config: GateConfig) -> tuple[LevelThresholds, dict[str, Any]]:
    """Per-level thresholds: the highest recall of good rows among the STABLE points, where a
    point is stable when it and every stricter point (both thresholds at least as high) meet
    the targets in every labelled set. A lucky island of a few accepted rows, which a
    slightly stricter setting would break, is not chosen: it does not hold on new captions."""
    cal = config.calibration
    target_m = min(1.0, cal.target_precision + cal.fit_margin)
    target_g = min(1.0, cal.target_good_precision + cal.fit_margin)
    idx = idx[(t.level[idx] == level) & ~t.hard[idx] & ~t.synthetic[idx]]
    n_good = max(1, int(t.good[(t.level == level)].sum()))
    grid = np.array(GRID)
    ok = np.zeros((len(grid), len(grid)), dtype=bool)
    recall = np.zeros_like(ok, dtype=float)
    quality = np.zeros_like(recall)  # the worst set's precision (for the fallback)
    for i, tm in enumerate(grid):
        for j, tw in enumerate(grid):
            acc = idx[(pm[idx] >= tm) & (pw[idx] >= tw)]
            worst_m, worst_g, wrong_ok = 1.0, 1.0, True
            for s in np.unique(t.source):
                a = acc[t.source[acc] == s]
                if len(a):
                    worst_m = min(worst_m, float(t.meaning[a].mean()))
                    worst_g = min(worst_g, float(t.good[a].mean()))
                wrong = (t.source == s) & (t.level == level) & ~t.meaning & ~t.synthetic
                # a share of a set's wrong rows; one wrong row is always a share of at most
                # one (a set with a single wrong row says nothing about a 1 % rate)
                if (~t.meaning[a]).sum() > max(1.0, cal.max_wrong_accepted * wrong.sum()):
                    wrong_ok = False
            ok[i, j] = worst_m >= target_m and worst_g >= target_g and wrong_ok
            recall[i, j] = float(t.good[acc].sum()) / n_good
            quality[i, j] = min(worst_m, worst_g + (target_m - target_g))
    # stable[i, j]: ok at (i, j) and at every (i' >= i, j' >= j)
    stable = np.flip(np.logical_and.accumulate(np.logical_and.accumulate(
        np.flip(ok), axis=0), axis=1))
    if (stable & (recall > 0)).any():
        score = np.where(stable, recall, -1.0)
        i, j = np.unravel_index(int(np.argmax(score)), score.shape)
        return LevelThresholds(meaning=float(grid[i]), wording=float(grid[j])), {
            "targets_met": True, "recall_on_fitting_rows": round(float(recall[i, j]), 3)}
    usable = recall >= cal.fallback_min_recall
    if cal.fallback_min_recall > 0 and usable.any():
        score = np.where(usable, quality, -1.0)
        i, j = np.unravel_index(int(np.argmax(score)), score.shape)
        return LevelThresholds(meaning=float(grid[i]), wording=float(grid[j])), {
            "targets_met": False, "fallback_min_recall": cal.fallback_min_recall,
            "recall_on_fitting_rows": round(float(recall[i, j]), 3)}
    return LevelThresholds(meaning=1.0, wording=1.0), {"targets_met": False,
                                                       "accepts": "nothing"}


def fit_learned(t: Table, idx: np.ndarray, config: GateConfig
                ) -> tuple[LearnedConfig, dict[str, Any]]:
    """The `learned` section fitted on rows `idx` (module docstring)."""
    cal = config.calibration
    pm, pw = _out_of_fold(t, idx, cal.folds, cal.seed, cal.l2)
    models = _fit_models(t, idx, cal.l2)
    chosen: dict[str, Any] = {}
    levels = {}
    for lv in (1, 2):
        levels[f"level{lv}"], chosen[str(lv)] = _choose(t, idx, pm, pw, lv, config)
        chosen[str(lv)]["thresholds"] = levels[f"level{lv}"].model_dump()
    counts = {s: int((t.source[idx] == s).sum()) for s in np.unique(t.source[idx])}
    learned = LearnedConfig.model_validate({
        "enabled": True,
        **{name: m.to_config() for name, m in models.items()},
        **{k: v.model_dump() for k, v in levels.items()},
        "fitted_on": [f"{s} ({n} rows)" for s, n in counts.items()],
    })
    return learned, chosen


def with_learned(config: GateConfig, learned: LearnedConfig) -> GateConfig:
    return config.model_copy(update={"learned": learned})


Decided = dict[int, tuple[dict[str, Any], list[str]]]  # row -> (scores, failed gates)


def decisions(t: Table, idx: np.ndarray, config: GateConfig) -> Decided:
    """Scores (with the learned probabilities) and failed gates of rows `idx` under a config."""
    out = {}
    for i in idx:
        s = dict(t.scores[i])
        apply_learned(s, config, t.rows[i].level)
        out[int(i)] = (s, failed_gates(s, config, t.rows[i].level))
    return out


def _reports(t: Table, decided: Decided, config: GateConfig) -> dict[str, dict[str, Any]]:
    """Per labelled set and level: level_report over the rows decided."""
    out: dict[str, dict[str, Any]] = {}
    for s in np.unique(t.source):
        idx = [i for i in decided if t.source[i] == s and not t.synthetic[i]]
        rows = [t.rows[i] for i in idx]
        scores = [decided[i][0] for i in idx]
        fails = [decided[i][1] for i in idx]
        out[str(s)] = {}
        for lv in (1, 2):
            if any(r.level == lv for r in rows):
                rep = level_report(rows, scores, fails, config, lv)
                rep["goals"]["recall_good"] = (None if rep["recall_good"] is None
                                               else rep["recall_good"] >= RECALL_GOALS[lv])
                rep["goals"]["precision_good"] = (
                    None if not rep["accepted"] else
                    rep["accepted_good"] / rep["accepted"] >= config.calibration
                    .target_good_precision)
                out[str(s)][str(lv)] = rep
    return out


def cross_validate(t: Table, config: GateConfig) -> dict[str, Any]:
    """Out-of-sample figures of the fitting procedure, and the config's in-sample ones."""
    everything = np.arange(len(t.rows))
    cal = config.calibration
    decided: Decided = {}
    for test in _folds(t.groups, cal.folds, cal.seed + 1):
        # a caption's mismatched pair goes with its caption, a fold's candidates stay out
        train = np.setdiff1d(everything, test)
        held = set(t.rows[i].candidate for i in test)
        train = train[[not (t.synthetic[i] and t.rows[i].candidate in held) for i in train]]
        learned, _ = fit_learned(t, train, config)
        decided.update(decisions(t, test, with_learned(config, learned)))
    result: dict[str, Any] = {"grouped_cv": _reports(t, decided, config), "cross_set": {}}
    sources = [str(s) for s in np.unique(t.source)]
    if len(sources) > 1:
        for held in sources:
            test = np.flatnonzero(t.source == held)
            learned, _ = fit_learned(t, np.flatnonzero(t.source != held), config)
            rep = _reports(t, decisions(t, test, with_learned(config, learned)), config)
            others = "+".join(s for s in sources if s != held)
            result["cross_set"][f"fit {others} -> test {held}"] = rep[held]
    if config.learned.enabled:
        result["in_sample"] = _reports(t, decisions(t, everything, config), config)
    return result


def markdown(result: dict[str, Any]) -> str:
    """The out-of-sample figures as one table (the CLI prints it)."""
    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:.3f}"

    lines = ["| evaluation | labelled set | level | candidates (meaning ok / good) | accepted "
             "| precision (meaning ok) | precision (good) | recall of good | wrong accepted |",
             "|---|---|---|---|---|---|---|---|---|"]

    def add(name: str, per_set: dict[str, Any]) -> None:
        for s, levels in per_set.items():
            for lv, r in levels.items():
                pg = r["accepted_good"] / r["accepted"] if r["accepted"] else None
                lines.append(
                    f"| {name} | {s} | {lv} | {r['candidates']} ({r['meaning_ok']} / "
                    f"{r['good']}) | {r['accepted']} | {f(r['precision'])} | {f(pg)} | "
                    f"{r['accepted_good']}/{r['good']} ({f(r['recall_good'])}) | "
                    f"{r['wrong_accepted']}/{r['wrong_total']} |")

    add("grouped CV (by caption)", result["grouped_cv"])
    for name, rep in result["cross_set"].items():
        add(name, {name.split("-> test ")[1]: rep})
    if "in_sample" in result:
        add("in sample (shipped config)", result["in_sample"])
    return "\n".join(lines) + "\n"
