"""A training run as StageStats (robustclap/contracts/stage.py), the shape every stage returns.

Rows are the training captions: those with usable audio are taken (rows_out); the others are
skipped with a reason (rejected; the clips and reasons are in OUT/skipped_audio.csv). The
run's numbers (steps, losses, rates) are counts; everything else is extra.
"""

from __future__ import annotations

from typing import Any

from robustclap.contracts.stage import StageStats, is_number


def train_stats(summary: dict[str, Any]) -> StageStats:
    """The training summary (OUT/summary.json, plus the losses) as StageStats."""
    data = summary.get("data") or {}
    used, skipped = int(data.get("captions", 0)), int(data.get("captions_skipped", 0))
    counts = {k: v for k, v in summary.items() if k != "seconds" and is_number(v)}
    return StageStats(
        "train", "complete" if summary.get("finished") else "incomplete",
        rows_in=used + skipped, rows_out=used, rejected=skipped, wall_s=summary.get("seconds"),
        counts=counts, extra={k: v for k, v in summary.items()
                              if k != "seconds" and k not in counts},
    )
