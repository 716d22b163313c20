"""Source sounds for the scenes: ESC-50 clips and the CC0 BigSoundBank animals, split so no
source recording is in both train and test, each cut to one event segment.

ESC-50 keeps clips of one Freesound recording (its `src_file`) in one fold so that folds are
disjoint. The shared subset has 400 of its 414 clips in fold 4, so disjoint *folds* would leave
14 test clips of 6 classes; the split here keeps the folds' guarantee at its own unit instead:
per class, about a quarter of the source recordings (at least one when a class has two or
more) go to test, the rest to train. BigSoundBank has one file per animal: train only.
"""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robustclap.bench.scenes.phrases import BIGSOUNDBANK_CLASSES, PHRASES
from robustclap.contracts.errors import RobustclapError
from robustclap.training.audio import AudioProblem, load_audio

SAMPLE_RATE = 16_000  # training/scene_clap.py's front end reads scenes at this rate
EVENT_S = 1.0  # a countable event: the loudest second of its clip
STEADY_S = 3.0  # a continuous sound: the loudest three seconds
TEST_SHARE = 0.25


@dataclass(frozen=True)
class Source:
    source_id: str  # "esc50/1-100032-A-0", "bigsoundbank/dog"
    path: Path
    cls: str
    group: str  # the unit kept on one side of the split (one source recording)
    split: str


def _test_groups(groups: list[str], seed: int) -> set[str]:
    """About TEST_SHARE of a class's recordings, at least one if it has two, in a fixed order."""
    if len(groups) < 2:
        return set()
    order = sorted(groups, key=lambda g: zlib.crc32(f"{seed}:{g}".encode()))
    return set(order[: max(1, round(len(groups) * TEST_SHARE))])


def list_sources(data_dir: str | Path, seed: int = 0) -> list[Source]:
    """Every usable source clip with its class and split. `data_dir` is ../shared/data."""
    data_dir = Path(data_dir)
    meta = data_dir / "esc50" / "meta.csv"
    if not meta.is_file():
        raise RobustclapError(f"ESC-50 not found: {meta} does not exist")
    with meta.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = {"filename", "fold", "category", "src_file"} - set(rows[0] if rows else {})
    if missing:
        raise RobustclapError(f"{meta} lacks the columns {sorted(missing)}")
    by_class: dict[str, list[dict]] = {}
    for row in rows:
        if row["category"] not in PHRASES:
            raise RobustclapError(f"{meta}: class {row['category']!r} has no phrases")
        by_class.setdefault(row["category"], []).append(row)
    out = []
    for cls, items in sorted(by_class.items()):
        groups = sorted({f"{r['fold']}-{r['src_file']}" for r in items})
        test = _test_groups(groups, seed)
        for r in sorted(items, key=lambda r: r["filename"]):
            group = f"{r['fold']}-{r['src_file']}"
            out.append(Source(f"esc50/{Path(r['filename']).stem}",
                              data_dir / "esc50" / "audio" / r["filename"], cls,
                              f"esc50/{group}", "test" if group in test else "train"))
    bsb = data_dir / "bigsoundbank" / "labels.csv"
    if bsb.is_file():
        with bsb.open(newline="") as fh:
            for r in csv.DictReader(fh):
                cls = BIGSOUNDBANK_CLASSES.get(r["label"])
                if cls is None:
                    raise RobustclapError(f"{bsb}: label {r['label']!r} has no phrases")
                out.append(Source(f"bigsoundbank/{Path(r['filename']).stem}",
                                  data_dir / "bigsoundbank" / "audio" / r["filename"], cls,
                                  f"bigsoundbank/{r['filename']}", "train"))
    return out


def loudest_window(wave: np.ndarray, seconds: float, sr: int = SAMPLE_RATE) -> tuple[int, int]:
    """(start, length) in samples of the window with the most energy (the whole clip if short)."""
    n = min(len(wave), int(seconds * sr))
    if n == len(wave):
        return 0, n
    energy = np.concatenate([[0.0], np.cumsum(wave.astype(np.float64) ** 2)])
    sums = energy[n:] - energy[:-n]
    hop = sr // 100  # 10 ms steps are plenty
    start = int(np.argmax(sums[::hop])) * hop
    return start, n


@dataclass(frozen=True)
class Segment:
    source: Source
    wave: np.ndarray  # the event, peak-normalised to 1, 10 ms fades
    start_s: float  # where it was cut from the source clip


def load_segments(sources: list[Source], sr: int = SAMPLE_RATE
                  ) -> tuple[dict[str, Segment], list[tuple[str, str]]]:
    """Cut every source's event segment (at `sr`; the scenes' own rate by default, 44.1 kHz
    for the aisfx tower); unusable files are returned with the reason."""
    segments, skipped = {}, []
    fade = sr // 100
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    for src in sources:
        try:
            wave = load_audio(src.path, sr)
        except AudioProblem as exc:
            skipped.append((src.source_id, str(exc)))
            continue
        seconds = EVENT_S if PHRASES[src.cls].countable else STEADY_S
        start, n = loudest_window(wave, seconds, sr)
        seg = wave[start:start + n].astype(np.float32).copy()
        peak = float(np.max(np.abs(seg)))
        if peak < 1e-4:
            skipped.append((src.source_id, "silent: the loudest window is silent"))
            continue
        seg /= peak
        if len(seg) > 2 * fade:
            seg[:fade] *= ramp
            seg[-fade:] *= ramp[::-1]
        segments[src.source_id] = Segment(src, seg, start / sr)
    return segments, skipped
