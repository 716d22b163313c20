"""Zero-shot ESC-50 classification for the scene benchmark (what the paper reports beside
retrieval): every shared ESC-50 clip against its 50 class names, each class embedded as the
mean of `evaluate.DEFAULT_TEMPLATES` prompts ("this is the sound of dog", ...).

Two clip sets: all shared clips (the scenes' training events come from three quarters of
them, so the audio is not unseen) and the clips of the test-side recordings only (no
training scene contains them). The clips' features are computed once per front end and
cached beside the scenes, like the scene features.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robustclap.bench.scenes.sources import list_sources
from robustclap.training.audio import AudioProblem, load_audio
from robustclap.training.evaluate import DEFAULT_TEMPLATES
from robustclap.training.metrics import accuracy


@dataclass
class ZeroShotSet:
    features: np.ndarray  # per clip, as the front end gives them
    labels: np.ndarray  # index into classes
    classes: list[str]
    test_source: np.ndarray  # bool: the clip's recording is on the test side of the split


def esc50_set(scenes_dir: str | Path, data_dir: str | Path, frontend,
              limit: int | None = None) -> ZeroShotSet:
    """The shared ESC-50 clips (BigSoundBank has no ESC-50 class names of its own; `limit`:
    only the first N, for smoke runs) through `frontend`, cached as
    features/esc50-<hash of the clip list and the front end>.npz."""
    import hashlib

    sources = [s for s in list_sources(data_dir) if s.source_id.startswith("esc50/")][:limit]
    key = hashlib.sha256(("\n".join(s.source_id for s in sources) + frontend.cache_key)
                         .encode()).hexdigest()[:16]
    path = Path(scenes_dir) / "features" / f"esc50-{key}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        feats, keep = z["features"], z["keep"]
    else:
        rng = np.random.default_rng(0)  # 5 s clips: no crop
        rows, keep = [], np.zeros(len(sources), dtype=bool)
        for i, s in enumerate(sources):
            try:
                rows.append(frontend.features(load_audio(s.path, frontend.sampling_rate), rng)[0])
            except AudioProblem:
                continue  # unreadable or silent: not scored (the scenes skip it as well)
            keep[i] = True
        feats = np.stack(rows)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        os.close(fd)
        np.savez(tmp, features=feats, keep=keep)
        os.replace(tmp, path)
    used = [s for s, k in zip(sources, keep, strict=True) if k]
    classes = sorted({s.cls for s in used})
    return ZeroShotSet(feats, np.array([classes.index(s.cls) for s in used]), classes,
                       np.array([s.split == "test" for s in used]))


def scores(audio: np.ndarray, text: np.ndarray, data: ZeroShotSet) -> dict[str, float]:
    """Top-1 accuracy on all clips and on the test-side clips. `text` holds the prompt
    embeddings, class-major (len(classes) x len(DEFAULT_TEMPLATES))."""
    cls = text.reshape(len(data.classes), len(DEFAULT_TEMPLATES), -1).mean(axis=1)
    cls /= np.linalg.norm(cls, axis=1, keepdims=True)
    sim = audio @ cls.T
    t = data.test_source
    return {"top1_all": accuracy(sim, data.labels, 1),
            "top1_test_sources": accuracy(sim[t], data.labels[t], 1),
            "clips_all": int(len(data.labels)), "clips_test_sources": int(t.sum())}


def prompts(data: ZeroShotSet) -> list[str]:
    return [t.format(label=c.replace("_", " ")) for c in data.classes for t in DEFAULT_TEMPLATES]
