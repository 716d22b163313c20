"""R@k and mAP@10 on hand-built similarity matrices, expected values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from robustclap.training.evaluate import Query, retrieval_both_ways
from robustclap.training.metrics import accuracy, retrieval_metrics


def test_audio_to_text_with_several_relevant_captions():
    # 3 clips (queries) x 6 captions; clip 0 owns captions 0,1,2, clip 1 owns 3,4, clip 2 owns 5
    sim = np.array([
        [0.2, 0.9, 0.1, 0.8, 0.3, 0.05],  # order 1,3,4,0,2,5: relevant at ranks 1,4,5
        [0.5, 0.4, 0.3, 0.2, 0.1, 0.6],   # order 5,0,1,2,3,4: relevant at ranks 5,6
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],   # order 0..5: relevant at rank 6
    ])
    relevant = np.zeros((3, 6), dtype=bool)
    relevant[0, [0, 1, 2]] = relevant[1, [3, 4]] = relevant[2, 5] = True
    m = retrieval_metrics(sim, relevant)
    # R@1: only clip 0 hits. R@5: clips 0 and 1. R@10: all three.
    assert m["R@1"] == pytest.approx(1 / 3)
    assert m["R@5"] == pytest.approx(2 / 3)
    assert m["R@10"] == pytest.approx(1.0)
    # AP@10: clip 0 (1/1 + 2/4 + 3/5) / 3 = 0.7; clip 1 (1/5 + 2/6) / 2 = 0.2667;
    # clip 2 (1/6) / 1 = 0.1667; mean 0.37778
    assert m["mAP@10"] == pytest.approx((0.7 + (0.2 + 1 / 3) / 2 + 1 / 6) / 3)


def test_text_to_audio_single_relevant_and_rank_cutoffs():
    # 4 queries over 12 clips; each row lists the gallery in ranked order
    orders = [
        [3, 0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11],   # relevant clip 3 at rank 1
        [0, 1, 5, 2, 3, 4, 6, 7, 8, 9, 10, 11],   # relevant clip 5 at rank 3
        [0, 1, 2, 3, 4, 5, 9, 6, 7, 8, 10, 11],   # relevant clip 9 at rank 7
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 10],   # relevant clip 10 at rank 12
    ]
    sim = np.zeros((4, 12))
    for q, order in enumerate(orders):
        sim[q, order] = 1.0 - np.arange(12) / 100
    relevant = np.zeros((4, 12), dtype=bool)
    relevant[[0, 1, 2, 3], [3, 5, 9, 10]] = True
    m = retrieval_metrics(sim, relevant)
    assert (m["R@1"], m["R@5"], m["R@10"]) == (0.25, 0.5, 0.75)
    # single relevant item: AP@10 = 1/rank within the top 10, else 0
    assert m["mAP@10"] == pytest.approx((1 + 1 / 3 + 1 / 7 + 0) / 4)


def test_ap_normalises_by_at_most_ten_relevant():
    sim = np.linspace(1, 0, 15)[None, :]
    relevant = np.ones((1, 15), dtype=bool)  # 15 relevant, all ranked first
    assert retrieval_metrics(sim, relevant)["mAP@10"] == pytest.approx(1.0)


def test_query_without_relevant_item_is_refused():
    with pytest.raises(ValueError, match="relevant"):
        retrieval_metrics(np.zeros((2, 3)), np.array([[1, 0, 0], [0, 0, 0]], dtype=bool))


def test_both_directions_from_embeddings():
    # 2 clips; clip a has two captions, clip b one. Embeddings on axes make scores exact.
    audio = np.array([[1.0, 0.0], [0.0, 1.0]])
    text = np.array([[1.0, 0.0], [0.2, 0.98], [0.0, 1.0]])
    queries = [Query("c1", "a", "x"), Query("c2", "a", "y"), Query("c3", "b", "z")]
    r = retrieval_both_ways(audio, ["a", "b"], text, queries)
    # t2a: c1 -> a (rank 1), c2 -> b first (rank 2 for a), c3 -> b (rank 1)
    assert r["t2a"]["R@1"] == pytest.approx(2 / 3)
    assert r["t2a"]["mAP@10"] == pytest.approx((1 + 0.5 + 1) / 3)
    # a2t: a ranks c1 (1.0), c2 (0.2), c3 (0) -> ranks 1, 2: AP 1; b ranks c3, c2, c1 -> AP 1
    assert r["a2t"]["R@1"] == 1.0 and r["a2t"]["mAP@10"] == pytest.approx(1.0)
    assert (r["queries"], r["clips"]) == (3, 2)


def test_accuracy_top1_top2():
    sim = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.7], [0.2, 0.3, 0.1]])
    labels = np.array([1, 2, 2])
    assert accuracy(sim, labels, 1) == pytest.approx(1 / 3)
    assert accuracy(sim, labels, 2) == pytest.approx(2 / 3)
