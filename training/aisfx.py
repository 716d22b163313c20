"""The aisfx audio tower: a pretrained sound-effects CNN that ships inside a PyPI package.

aisfx 0.1.2 (A. B. Ma and A. Lerch, "Representation learning for the automatic indexing of sound
effects libraries", ISMIR 2022; model and paper CC BY 4.0) holds `aisfx/models/checkpoint.pth`:
a tuple (state_dict, dataset_dict) of its cross-dataset classifier. The keys `embedding_net.*`
are a 4-block CNN (`EmbeddingNet('max', 3, 1, 64)`, 4.7 M parameters) that maps a log-mel of
shape (frames, 96) to a 512-d embedding (mean over bands, max over time).

Install it with `pip install --no-deps aisfx==0.1.2` (its numpy/librosa pins do not build on
Python 3.11; importing it needs tqdm). The checkpoint is read with torch.load(weights_only=True)
and only numpy's scalar and dtype classes allow-listed (its dataset_dict holds numpy ints).

Front end (the package's librosa path, checked here by ESC-50 nearest-centroid accuracy):
mono 44.1 kHz, peak-normalised, power STFT (n_fft 2048, hop 1024, Hann), 96 HTK mel bands
0-22.05 kHz each summing to 1, `log10(10000 x + 1) / 9.4578` (the package's "original"
min-max scaling), frames first.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from robustclap.contracts.errors import RobustclapError

SAMPLE_RATE = 44_100
N_FFT, HOP, N_MELS = 2048, 1024, 96
LOG_MAX = 9.457798957824707  # aisfx.preprocessing.spectrogram_normalize, spec_norm="original"
EMBED_DIM = 512


def checkpoint_path() -> Path:
    try:
        from importlib import resources

        path = Path(str(resources.files("aisfx").joinpath("models/checkpoint.pth")))
    except ModuleNotFoundError as exc:
        raise RobustclapError(
            "the two-tower model's audio tower needs aisfx: pip install --no-deps "
            "aisfx==0.1.2 tqdm (scripts/install.sh does)") from exc
    if not path.is_file():
        raise RobustclapError(f"aisfx is installed but its checkpoint {path} is missing")
    return path


@functools.cache
def checkpoint_digest() -> str:
    """sha256 (16 hex) of the packaged checkpoint: the audio tower's identity in cache keys."""
    return hashlib.sha256(checkpoint_path().read_bytes()).hexdigest()[:16]


def new_encoder() -> nn.Module:
    """The CNN with its random initialisation (an exported model loads its own weights).
    Built off the global RNG: the frozen front end builds it lazily, mid-run, and must not
    shift dropout's random stream (a resumed run would then differ)."""
    from aisfx.models.cnn2d import EmbeddingNet

    with torch.random.fork_rng(devices=[]):
        return EmbeddingNet("max", 3, 1, 64)


def load_encoder() -> nn.Module:
    """The pretrained CNN from the packaged checkpoint (weights_only, numpy classes allowed)."""
    from numpy._core.multiarray import scalar

    allowed = [(scalar, "numpy.core.multiarray.scalar"), np.dtype, np.dtypes.Int64DType]
    try:
        with torch.serialization.safe_globals(allowed):
            state, _datasets = torch.load(checkpoint_path(), map_location="cpu",
                                          weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is one clear message
        raise RobustclapError(f"cannot read the aisfx checkpoint: {exc}") from exc
    prefix = "embedding_net."
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    net = new_encoder()
    net.load_state_dict(weights)  # strict: every key of the CNN, no other
    return net.eval()


@functools.cache
def _mel_filters() -> np.ndarray:
    """(1 + N_FFT/2, 96) HTK triangles from 0 Hz to Nyquist, each summing to 1 (librosa's
    norm=1.0, Essentia's unit_sum)."""
    from transformers.audio_utils import mel_filter_bank

    fb = mel_filter_bank(num_frequency_bins=N_FFT // 2 + 1, num_mel_filters=N_MELS,
                         min_frequency=0.0, max_frequency=SAMPLE_RATE / 2,
                         sampling_rate=SAMPLE_RATE, norm=None, mel_scale="htk")
    return (fb / np.maximum(fb.sum(axis=0, keepdims=True), 1e-12)).astype(np.float32)


def log_mel(wave: np.ndarray) -> np.ndarray:
    """(frames, 96) float32 input of the CNN for a mono 44.1 kHz waveform."""
    peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
    x = torch.from_numpy(np.asarray(wave, dtype=np.float32) / (peak if peak > 0 else 1.0))
    spec = torch.stft(x, N_FFT, HOP, window=torch.hann_window(N_FFT), center=True,
                      pad_mode="constant", return_complex=True).abs().pow(2)  # (bins, frames)
    mel = torch.from_numpy(_mel_filters()).T @ spec
    return (torch.log10(mel * 10000.0 + 1.0) / LOG_MAX).T.contiguous().numpy()


@dataclass(frozen=True)
class AisfxFrontEnd:
    """Waveform -> (log-mel (window frames, 96), is_longer) for a trainable audio tower:
    clips longer than `max_seconds` are cropped with the caller's generator, shorter ones
    padded with silence frames (0 after the log), so a batch stacks."""

    max_seconds: float = 10.0
    kind: str = "aisfx-mel"

    @property
    def sampling_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def max_samples(self) -> int:
        return int(round(self.max_seconds * SAMPLE_RATE))

    @property
    def frames(self) -> int:
        return self.max_samples // HOP + 1

    @property
    def cache_key(self) -> str:
        return f"{self.kind}:sr{SAMPLE_RATE}:fft{N_FFT}:hop{HOP}:mel{N_MELS}:{self.max_seconds}"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "max_seconds": self.max_seconds}

    def _crop(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if len(wave) <= self.max_samples:
            return wave
        start = int(rng.integers(0, len(wave) - self.max_samples + 1))
        return wave[start:start + self.max_samples]

    def features(self, wave: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        longer = len(wave) > self.max_samples
        mel = log_mel(self._crop(wave, rng))[: self.frames]
        out = np.zeros((self.frames, N_MELS), dtype=np.float32)
        out[: len(mel)] = mel
        return out, longer


@dataclass(frozen=True)
class FrozenAisfxFrontEnd(AisfxFrontEnd):
    """Waveform -> (512-d embedding of the frozen pretrained CNN, is_longer).

    With the tower frozen its output is a fixed function of the clip, so the embedding *is*
    the feature: computed once per clip (whole clip in one pass, no padding) and cached by
    whoever caches features (the loader's cache_features, evaluate's feature cache, the scene
    benchmark's feature file), keyed by `cache_key`, which names the checkpoint's digest."""

    kind: str = "aisfx-frozen"
    encoder: nn.Module | None = field(default=None, compare=False, repr=False)

    @property
    def cache_key(self) -> str:
        return f"{super().cache_key}:{checkpoint_digest()}"

    def _net(self) -> nn.Module:
        if self.encoder is None:
            object.__setattr__(self, "encoder", load_encoder())
        return self.encoder

    @torch.no_grad()
    def features(self, wave: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        longer = len(wave) > self.max_samples
        mel = torch.from_numpy(log_mel(self._crop(wave, rng)))
        net = self._net().eval()
        return net(mel[None]).squeeze(0).numpy().astype(np.float32), longer
