"""Audio in: find files by clip id, decode, mix to mono, resample, and turn into CLAP features.

Decoding is soundfile (libsndfile: WAV, FLAC, OGG, MP3) and resampling soxr, so nothing here
needs torchaudio. Features follow transformers' ClapFeatureExtractor (48 kHz, 10 s, `rand_trunc`
or `fusion`, `repeatpad`), but every random choice (which 10 s crop) comes from a generator the
caller seeds, so a resumed run sees exactly the crops the uninterrupted run would have seen.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from robustclap.contracts.errors import RobustclapError

if TYPE_CHECKING:  # transformers is imported lazily: `robustclap --help` stays fast
    from transformers import ClapFeatureExtractor

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")


class AudioProblem(Exception):
    """A clip that cannot be used; `reason` is one of missing, unreadable, empty, silent."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def find_audio_files(folder: str | Path, extensions: tuple[str, ...] = AUDIO_EXTENSIONS
                     ) -> dict[str, Path]:
    """Map clip id (file stem) -> path for every audio file under `folder`, recursively.

    Two files with the same stem would make the clip id ambiguous, so that is an error.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise RobustclapError(f"audio folder {folder} does not exist")
    exts = {e.lower() for e in extensions}
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in exts or not path.is_file():
            continue
        if path.stem in found:
            raise RobustclapError(
                f"two audio files share the clip id {path.stem!r}: {found[path.stem]} and {path}"
            )
        found[path.stem] = path
    return found


def load_audio(path: str | Path | None, target_sr: int, silence_peak: float = 1e-4) -> np.ndarray:
    """Decode `path` to a mono float32 waveform at `target_sr`.

    Raises AudioProblem for a missing, unreadable, empty or silent file (peak below
    `silence_peak`, 1e-4 = -80 dBFS), so callers can report and skip it.
    """
    import soundfile as sf
    import soxr

    if path is None or not Path(path).is_file():
        raise AudioProblem("missing", str(path) if path else "no file for this clip id")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioProblem("unreadable", f"{path}: {exc}") from exc
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise AudioProblem("empty", str(path))
    wave = data.mean(axis=1)
    if not np.all(np.isfinite(wave)):
        raise AudioProblem("unreadable", f"{path}: non-finite samples")
    if float(np.max(np.abs(wave))) < silence_peak:
        raise AudioProblem("silent", str(path))
    if sr != target_sr:
        wave = soxr.resample(wave, sr, target_sr, quality="HQ")
    return np.ascontiguousarray(wave, dtype=np.float32)


@contextlib.contextmanager
def _numpy_seed(seed: int) -> Iterator[None]:
    """Run a block with numpy's global RNG seeded, then restore it.

    ClapFeatureExtractor's `fusion` mode draws its three crops from the global RNG; this makes
    them reproducible without changing anyone else's random stream.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


@dataclass(frozen=True)
class AudioFrontEnd:
    """Waveform -> (log-mel features, is_longer) the way the CLAP checkpoint expects them."""

    extractor: ClapFeatureExtractor
    truncation: str  # "rand_trunc" or "fusion"
    padding: str  # "repeatpad", "repeat" or "pad"

    @property
    def sampling_rate(self) -> int:
        return int(self.extractor.sampling_rate)

    @property
    def max_samples(self) -> int:
        return int(self.extractor.nb_max_samples)

    @property
    def cache_key(self) -> str:
        """Identity of the features this front end computes (feature caches key on it)."""
        import json

        return json.dumps([self.truncation, self.padding, self.extractor.to_dict()],
                          sort_keys=True, default=str)

    def is_longer(self, n_samples: int) -> bool:
        """Whether the clip is longer than the window (fusion then uses its local crops).

        Same rule as the extractor, whose mel has n // hop + 1 frames: a clip less than one hop
        longer than the window has as many frames as the window and counts as not longer.
        """
        if n_samples <= self.max_samples:
            return False
        if self.truncation != "fusion":
            return True
        hop = int(self.extractor.hop_length)
        return n_samples // hop + 1 != self.max_samples // hop + 1

    def features(self, wave: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        """Features of one clip: float32 (channels, frames, mels) and its is_longer flag.

        `rand_trunc` crops here with `rng` (the extractor then sees exactly one window);
        `fusion` lets the extractor pick its crops under a seed drawn from `rng`. The flag is
        computed from the clip, not taken from the extractor, which marks a random clip of a
        batch as longer when none is.
        """
        longer = self.is_longer(len(wave))
        if self.truncation == "rand_trunc" and len(wave) > self.max_samples:
            start = int(rng.integers(0, len(wave) - self.max_samples + 1))
            wave = wave[start : start + self.max_samples]
        with _numpy_seed(int(rng.integers(0, 2**32 - 1))):
            out = self.extractor(
                wave, sampling_rate=self.sampling_rate, truncation=self.truncation,
                padding=self.padding, return_tensors="np",
            )
        mel = np.asarray(out["input_features"][0], dtype=np.float32)
        return mel, longer
