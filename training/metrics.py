"""Retrieval and classification metrics from a similarity matrix (numpy, no model involved).

Conventions (AudioCaps / Clotho, several captions per clip):
- A query is a hit at k when at least one relevant item is among its top k (R@k).
- AP@10 = (1 / min(R, 10)) * sum over ranks k <= 10 holding a relevant item of precision@k,
  R = number of relevant items. With one relevant item (text -> audio) this is 1/rank when
  rank <= 10, else 0: the DCASE mAP@10. mAP@10 is its mean over queries.
- Ties are broken by gallery order (stable sort), so results are deterministic.
"""

from __future__ import annotations

import numpy as np

KS = (1, 5, 10)


def ranks_of_relevant(sim: np.ndarray, relevant: np.ndarray) -> list[np.ndarray]:
    """Per query, the 1-based ranks of its relevant gallery items (sorted)."""
    if sim.shape != relevant.shape:
        raise ValueError(f"similarity {sim.shape} and relevance {relevant.shape} differ")
    order = np.argsort(-sim, axis=1, kind="stable")
    hits = np.take_along_axis(relevant, order, axis=1)
    return [np.flatnonzero(row) + 1 for row in hits]


def retrieval_metrics(sim: np.ndarray, relevant: np.ndarray, ks: tuple[int, ...] = KS,
                      ap_at: int = 10) -> dict[str, float]:
    """R@k for each k and mAP@`ap_at` of queries (rows) against a gallery (columns).

    Queries without any relevant item are an error: they would count as misses silently.
    """
    sim, relevant = np.asarray(sim, dtype=np.float64), np.asarray(relevant, dtype=bool)
    if sim.shape[0] == 0:
        raise ValueError("no queries")
    if not relevant.any(axis=1).all():
        raise ValueError("every query needs at least one relevant item")
    ranks = ranks_of_relevant(sim, relevant)
    out = {f"R@{k}": float(np.mean([r[0] <= k for r in ranks])) for k in ks}
    aps = []
    for r in ranks:
        top = r[r <= ap_at]
        precision_at_hits = np.arange(1, len(top) + 1) / top  # hits so far / rank
        aps.append(precision_at_hits.sum() / min(len(r), ap_at))
    out[f"mAP@{ap_at}"] = float(np.mean(aps))
    return out


def accuracy(sim: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Top-k classification accuracy of rows of `sim` (items x classes) against labels."""
    sim = np.asarray(sim)
    topk = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    return float(np.mean([labels[i] in topk[i] for i in range(len(labels))]))
