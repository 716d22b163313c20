"""The training view: captions + accepted paraphrases + audio files, joined by clip id.

One example per training caption: its clip's audio, the caption, and the accepted level-1 and
level-2 paraphrases of that caption (sampled per epoch by the loader). Clips whose audio is
missing, unreadable, empty or silent are reported and skipped; the counts go to the summary.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import CAPTIONS, CORPUS, read_dir, read_table
from robustclap.contracts.schema import col as c
from robustclap.training.audio import AudioProblem, find_audio_files, load_audio
from robustclap.training.splits import check_splits


def read_captions(path: str | Path) -> pd.DataFrame:
    """A CAPTIONS Parquet file, or every CAPTIONS shard in a folder."""
    path = Path(path)
    if not path.exists():
        raise RobustclapError(f"captions {path} do not exist")
    table = read_dir(CAPTIONS, path) if path.is_dir() else read_table(CAPTIONS, path)
    return table.to_pandas()


def read_corpus(path: str | Path | None) -> pd.DataFrame:
    """The gate's accepted paraphrases: a file, a folder with accepted.parquet, or shards."""
    if path is None:
        return CORPUS.schema.empty_table().to_pandas()
    path = Path(path)
    if not path.exists():
        raise RobustclapError(f"corpus {path} does not exist")
    if path.is_dir():
        accepted = path / layout.ACCEPTED_FILE
        table = read_table(CORPUS, accepted) if accepted.exists() else read_dir(CORPUS, path)
    else:
        table = read_table(CORPUS, path)
    return table.to_pandas()


@dataclass(frozen=True)
class Example:
    """One training caption with the paraphrases it may be shown as (best first)."""

    caption_id: str
    clip_id: str
    caption: str
    p1: tuple[str, ...]
    p2: tuple[str, ...]


@dataclass
class Skipped:
    """Clips left out of a run, with why, for the report and the summary counts."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)  # clip_id, reason, detail

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r[1] for r in self.rows).items()))

    def write_csv(self, path: Path) -> None:
        pd.DataFrame(self.rows, columns=["clip_id", "reason", "detail"]).to_csv(path, index=False)


def scan_clips(clip_ids: list[str], files: dict[str, Path], sampling_rate: int,
               silence_peak: float, threads: int | None = None) -> tuple[set[str], Skipped]:
    """Decode every clip once; return the usable ones and the skipped ones with reasons.

    Decoding up front (rather than failing mid-epoch) keeps batches and their order fixed for
    the whole run, which exact resume relies on. libsndfile and soxr release the GIL: threads.
    """

    def probe(clip_id: str) -> tuple[str, str, str] | None:
        try:
            load_audio(files.get(clip_id), sampling_rate, silence_peak)
        except AudioProblem as exc:
            return clip_id, exc.reason, exc.detail
        return None

    workers = threads or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(probe, clip_ids))
    skipped = Skipped([r for r in results if r is not None])
    bad = {r[0] for r in skipped.rows}
    return {x for x in clip_ids if x not in bad}, skipped


@dataclass
class TrainingView:
    examples: list[Example]
    files: dict[str, Path]  # clip_id -> audio file, usable clips only
    skipped: Skipped
    stats: dict[str, int]


def paraphrases_by_caption(corpus: pd.DataFrame) -> dict[tuple[str, int], tuple[str, ...]]:
    """(caption_id, level) -> accepted paraphrases ordered by rank (0 = best), deduplicated."""
    out: dict[tuple[str, int], tuple[str, ...]] = {}
    ordered = corpus.sort_values([c.caption_id, c.level, c.rank, c.candidate], kind="stable")
    for (caption_id, level), group in ordered.groupby([c.caption_id, c.level], sort=False):
        texts = [t.strip() for t in group[c.paraphrase] if isinstance(t, str) and t.strip()]
        out[(str(caption_id), int(level))] = tuple(dict.fromkeys(texts))
    return out


def build_training_view(captions: pd.DataFrame, corpus: pd.DataFrame, audio_dir: str | Path,
                        train_splits: list[str], sampling_rate: int,
                        silence_peak: float = 1e-4) -> TrainingView:
    """Guard the splits, then join training captions, paraphrases and usable audio."""
    check_splits(captions, corpus, train_splits)
    train = captions[captions[c.split].isin(train_splits)]
    if train.empty:
        raise RobustclapError(f"no captions in the training split(s) {train_splits}")
    files = find_audio_files(audio_dir)
    clip_ids = sorted(set(train[c.clip_id]))
    usable, skipped = scan_clips(clip_ids, files, sampling_rate, silence_peak)
    paras = paraphrases_by_caption(corpus[corpus[c.caption_id].isin(set(train[c.caption_id]))])
    examples = [
        Example(str(row.caption_id), str(row.clip_id), str(row.caption),
                paras.get((str(row.caption_id), 1), ()), paras.get((str(row.caption_id), 2), ()))
        for row in train.sort_values(c.caption_id, kind="stable").itertuples(index=False)
        if row.clip_id in usable
    ]
    if not examples:
        raise RobustclapError(
            f"no training example has usable audio in {audio_dir} "
            f"(skipped clips: {skipped.counts() or 'none'})"
        )
    stats = {
        "captions": len(examples),
        "captions_skipped": int(len(train) - len(examples)),
        "clips": len({e.clip_id for e in examples}),
        "clips_skipped": len(skipped.rows),
        "with_level1": sum(bool(e.p1) for e in examples),
        "with_level2": sum(bool(e.p2) for e in examples),
        "paraphrases_level1": sum(len(e.p1) for e in examples),
        "paraphrases_level2": sum(len(e.p2) for e in examples),
    }
    return TrainingView(examples, {k: files[k] for k in usable}, skipped, stats)
