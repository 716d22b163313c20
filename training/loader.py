"""Batches for training: a seeded order per epoch that can start mid-epoch, and a collate that
runs the audio tower once per clip.

Every random choice (order, paraphrase pick, audio crop) is a function of (seed, epoch, index),
never of worker ids or a global RNG: a run resumed at batch k of epoch e sees exactly the batches
the uninterrupted run saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from robustclap.contracts.errors import RobustclapError
from robustclap.training.audio import AudioFrontEnd, load_audio
from robustclap.training.data import TrainingView


class EpochBatches:
    """Epoch e's batches: a permutation seeded by (seed, e), cut into global batches; rank r
    takes its slice of each. The last incomplete global batch is dropped so every rank gets
    the same number of equally sized batches (DDP and the feature gather need that)."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        if len(self) == 0:
            raise RobustclapError(
                f"{n} training examples are not enough for one batch of {batch_size}"
                + (f" x {world_size} processes" if world_size > 1 else "")
            )

    def __len__(self) -> int:
        return self.n // (self.batch_size * self.world_size)

    def epoch(self, epoch: int, start: int = 0) -> list[list[tuple[int, int]]]:
        """Batches `start`.. of `epoch` for this rank, as lists of (epoch, example index)."""
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        step = self.batch_size * self.world_size
        out = []
        for b in range(start, len(self)):
            lo = b * step + self.rank * self.batch_size
            out.append([(epoch, int(i)) for i in order[lo : lo + self.batch_size]])
        return out


class ExampleDataset(Dataset):
    """Item (epoch, batch, i): features of example i's clip and its texts for that epoch."""

    def __init__(self, view: TrainingView, frontend: AudioFrontEnd, seed: int,
                 sampling: str = "uniform", silence_peak: float = 0.0,
                 cache_features: bool = False) -> None:
        self.view, self.frontend, self.seed, self.sampling = view, frontend, seed, sampling
        self.silence_peak = silence_peak
        clip_ids = sorted({e.clip_id for e in view.examples})
        self.clip_key = {clip: k for k, clip in enumerate(clip_ids)}
        self.cache: dict[str, tuple[np.ndarray, bool]] | None = {} if cache_features else None

    def __len__(self) -> int:
        return len(self.view.examples)

    def _pick(self, options: tuple[str, ...], rng: np.random.Generator) -> str | None:
        if not options:
            return None
        if self.sampling == "best":
            return options[0]
        return options[int(rng.integers(len(options)))]

    def _features(self, clip_id: str, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        if self.cache is not None and clip_id in self.cache:
            return self.cache[clip_id]
        wave = load_audio(self.view.files[clip_id], self.frontend.sampling_rate, self.silence_peak)
        mel, longer = self.frontend.features(wave, rng)
        # Only a clip that fits the window gives the same features every epoch.
        if self.cache is not None and len(wave) <= self.frontend.max_samples:
            self.cache[clip_id] = (mel, longer)
        return mel, longer

    def __getitem__(self, item: tuple[int, int, int]) -> dict:
        epoch, batch, i = item
        ex = self.view.examples[i]
        # separate streams: a cached clip draws no crop, which must not change the text picks
        audio_rng = np.random.default_rng([self.seed, epoch, i, 0])
        text_rng = np.random.default_rng([self.seed, epoch, i, 1])
        mel, longer = self._features(ex.clip_id, audio_rng)
        return {
            "epoch": epoch, "batch": batch, "index": i, "clip_id": ex.clip_id,
            "clip_key": self.clip_key[ex.clip_id],
            "caption_id": ex.caption_id, "mel": mel, "is_longer": longer,
            "caption": ex.caption, "p1": self._pick(ex.p1, text_rng),
            "p2": self._pick(ex.p2, text_rng),
        }


@dataclass
class Batch:
    """B examples over U <= B distinct clips; audio_index maps each example to its clip row."""

    epoch: int
    batch: int  # index of this batch within its epoch

    input_features: torch.Tensor  # (U, channels, frames, mels)
    is_longer: torch.Tensor  # (U, 1) bool
    audio_index: torch.Tensor  # (B,) long
    clip_keys: torch.Tensor  # (B,) long, equal for examples of the same clip
    clip_ids: list[str]
    indices: list[int]
    captions: list[str]
    p1: list[str | None]
    p2: list[str | None]


def collate(items: list[dict]) -> Batch:
    """Stack each distinct clip's features once (the first occurrence's crop)."""
    first: dict[str, int] = {}
    mels, longer, audio_index = [], [], []
    for it in items:
        if it["clip_id"] not in first:
            first[it["clip_id"]] = len(mels)
            mels.append(it["mel"])
            longer.append([it["is_longer"]])
        audio_index.append(first[it["clip_id"]])
    return Batch(
        epoch=items[0]["epoch"], batch=items[0]["batch"],
        input_features=torch.from_numpy(np.stack(mels)),
        is_longer=torch.tensor(longer, dtype=torch.bool),
        audio_index=torch.tensor(audio_index, dtype=torch.long),
        clip_keys=torch.tensor([it["clip_key"] for it in items], dtype=torch.long),
        clip_ids=[it["clip_id"] for it in items],
        indices=[it["index"] for it in items],
        captions=[it["caption"] for it in items],
        p1=[it["p1"] for it in items],
        p2=[it["p2"] for it in items],
    )


class _Endless:
    """Batch sampler over all epochs from a position on; items are (epoch, batch, index)."""

    def __init__(self, order: EpochBatches, epoch: int, batch: int) -> None:
        self.order, self.epoch, self.batch = order, epoch, batch

    def __iter__(self):
        epoch, start = self.epoch, self.batch
        while True:
            for b, items in enumerate(self.order.epoch(epoch, start), start=start):
                yield [(e, b, i) for e, i in items]
            epoch, start = epoch + 1, 0


class BatchStream:
    """Endless batches across epochs, starting at a saved position (epoch, next batch).

    One DataLoader for the whole run (workers and their feature caches persist). Its own
    generator keeps it off the global torch RNG, so creating it on resume does not shift
    dropout's random stream.
    """

    def __init__(self, dataset: ExampleDataset, order: EpochBatches, num_workers: int,
                 epoch: int = 0, batch: int = 0, pin_memory: bool = False) -> None:
        self.epoch, self.batch = epoch, batch
        loader = DataLoader(
            dataset, batch_sampler=_Endless(order, epoch, batch), collate_fn=collate,
            num_workers=num_workers, pin_memory=pin_memory,
            generator=torch.Generator().manual_seed(0),
        )
        self._it = iter(loader)

    def position(self) -> tuple[int, int]:
        """Where a resumed run must start: the batch after the last one handed out."""
        return self.epoch, self.batch

    def next(self) -> Batch:
        batch = next(self._it)
        self.epoch, self.batch = batch.epoch, batch.batch + 1
        return batch
