"""Ranking metrics for calibration, from scikit-learn.

The wrappers keep this project's conventions: None (not an error, not a warning) when a
metric is undefined because a class or the positive predictions are missing, and a threshold
t that means "predict positive when score >= t" (ties at t are all positive).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support, roc_auc_score


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half);
    None when one class is absent."""
    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, np.asarray(scores, dtype=float)))


def precision_recall(predicted: Sequence[bool], labels: Sequence[int]) -> dict[str, float | None]:
    """Precision, recall and F1 of the positive class; None where a denominator is zero."""
    p = np.asarray(predicted, dtype=bool)
    y = np.asarray(labels, dtype=bool)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, p, average="binary", pos_label=True, zero_division=np.nan)
    out = {"precision": float(precision), "recall": float(recall), "f1": float(f1)}
    if not p.any():
        out["precision"] = None
    if not y.any():
        out["recall"] = None
    if out["precision"] is None or out["recall"] is None:
        out["f1"] = None
    elif np.isnan(out["f1"]):  # precision + recall == 0
        out["f1"] = 0.0
    return out


def best_f1_threshold(scores: Sequence[float], labels: Sequence[int]) -> dict[str, float | None]:
    """The threshold t (predict positive when score >= t) with the highest F1; the highest
    such t when several tie."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    if not y.any():
        return {"threshold": None, "precision": None, "recall": None, "f1": None}
    precision, recall, thresholds = precision_recall_curve(y, s)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    k = int(np.flatnonzero(f1 == f1.max())[-1])  # thresholds ascend: the last is the highest
    return {"threshold": float(thresholds[k]), "precision": float(precision[k]),
            "recall": float(recall[k]), "f1": float(f1[k])}
