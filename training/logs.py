"""Training metrics to three sinks: JSONL and CSV (one row per logged step) and TensorBoard.

On resume, rows after the checkpoint's step (written by the run that died) are dropped first,
so the files read as one continuous run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from robustclap.contracts import layout

FIELDS = ("step", "epoch", "batch", "loss", "clap", "p1", "p1_audio", "p1_caption", "p2",
          "p2_audio", "p2_caption", "lr", "logit_scale", "grad_norm", "steps_per_s")


def _truncate_jsonl(path: Path, after_step: int) -> None:
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line)["step"] <= after_step]
    path.write_text("".join(r + "\n" for r in rows))


def _truncate_csv(path: Path, after_step: int) -> None:
    if not path.exists():
        return
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= after_step]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


class MetricsLog:
    """Append-only metric rows; a no-op on ranks other than 0."""

    def __init__(self, out_dir: Path, resume_step: int = 0, enabled: bool = True) -> None:
        self.enabled = enabled
        if not enabled:
            return
        self.jsonl_path = out_dir / layout.METRICS_JSONL_FILE
        self.csv_path = out_dir / layout.METRICS_CSV_FILE
        if resume_step:
            _truncate_jsonl(self.jsonl_path, resume_step)
            _truncate_csv(self.csv_path, resume_step)
        else:
            self.jsonl_path.unlink(missing_ok=True)
            self.csv_path.unlink(missing_ok=True)
        new_csv = not self.csv_path.exists()
        self._jsonl = self.jsonl_path.open("a")
        self._csv_fh = self.csv_path.open("a", newline="")
        self._csv = csv.DictWriter(self._csv_fh, fieldnames=FIELDS, extrasaction="ignore")
        if new_csv:
            self._csv.writeheader()
        from torch.utils.tensorboard import SummaryWriter

        self._tb = SummaryWriter(str(out_dir / "tensorboard"), purge_step=resume_step + 1)

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._jsonl.write(json.dumps(row) + "\n")
        self._jsonl.flush()
        self._csv.writerow(row)
        self._csv_fh.flush()
        for key, value in row.items():
            if key not in ("step", "epoch", "batch") and isinstance(value, int | float):
                self._tb.add_scalar(f"train/{key}", value, row["step"])

    def close(self) -> None:
        if self.enabled:
            self._jsonl.close()
            self._csv_fh.close()
            self._tb.close()
