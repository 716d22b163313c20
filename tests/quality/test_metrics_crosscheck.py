"""The scikit-learn-backed metrics against definitions written out by brute force, on random
scores with many ties (the case hand-written rank code gets wrong)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from robustclap.quality.metrics import best_f1_threshold, precision_recall, roc_auc


def _brute_pr(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    tp = int((pred & y).sum())
    p = tp / pred.sum() if pred.any() else 0.0
    r = tp / y.sum()
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.choice(np.round(rng.random(12), 2), size=80)  # few distinct values: ties
    labels = (rng.random(80) < 0.3 + 0.5 * scores).astype(int)
    y = labels.astype(bool)
    pos, neg = scores[y], scores[~y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    assert roc_auc(scores, labels) == pytest.approx(wins / (len(pos) * len(neg)))

    best = max(((_brute_pr(scores >= t, y), t) for t in sorted(set(scores))),
               key=lambda x: (x[0][2], x[1]))  # highest F1, then the highest threshold
    got = best_f1_threshold(scores, labels)
    assert got["threshold"] == best[1]
    assert (got["precision"], got["recall"], got["f1"]) == pytest.approx(best[0])

    pred = scores >= 0.5
    want = dict(zip(("precision", "recall", "f1"), _brute_pr(pred, y), strict=True))
    assert precision_recall(pred, labels) == pytest.approx(want)


def test_undefined_metrics_are_none_without_warnings() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert roc_auc([0.2, 0.4], [0, 0]) is None
        assert precision_recall([False, False], [1, 0]) == {"precision": None, "recall": 0.0,
                                                            "f1": None}
        assert precision_recall([True, False], [0, 0])["recall"] is None
        assert precision_recall([True, False], [0, 1])["f1"] == 0.0
        assert best_f1_threshold([0.1, 0.2], [0, 0])["threshold"] is None
