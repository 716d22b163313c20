"""ROC-AUC and thresholds against brute-force definitions."""

from __future__ import annotations

import itertools
import random

import pytest

from robustclap.quality.metrics import best_f1_threshold, precision_recall, roc_auc


def brute_auc(scores, labels) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_matches_pairwise_definition_with_ties():
    rng = random.Random(0)
    scores = [rng.choice([0.1, 0.2, 0.3, 0.5, 0.9]) for _ in range(60)]
    labels = [int(rng.random() < 0.4 + s / 2) for s in scores]
    assert roc_auc(scores, labels) == pytest.approx(brute_auc(scores, labels))


def test_auc_extremes_and_one_class():
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert roc_auc([0.5, 0.5], [1, 1]) is None


def test_precision_recall():
    r = precision_recall([True, True, False, False], [1, 0, 1, 0])
    assert r == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert precision_recall([False, False], [1, 0])["precision"] is None


def test_best_f1_threshold_cuts_between_distinct_scores():
    best = best_f1_threshold([0.9, 0.8, 0.8, 0.3, 0.1], [1, 1, 0, 0, 0])
    assert best["threshold"] == 0.8  # ties at 0.8 are all predicted positive
    assert best["recall"] == 1.0
    assert best["precision"] == pytest.approx(2 / 3)
