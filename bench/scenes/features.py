"""Log-mel features of every scene, computed once and cached beside the scenes.

Rendering and the mel transform take longer than a training step of the tiny model, and every
setting and seed of the benchmark sees the same scenes; so they are computed once per (scene
set, front end) and stored (`features/KEY.npy`, KEY a hash of both): log-mels as float16,
the frozen aisfx tower's embeddings (its front end's features) as float32. Scenes are rendered
at the front end's own rate (16 kHz for the tiny CLAP, 44.1 kHz for aisfx).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from robustclap.bench.scenes.compose import Event, Scene, render
from robustclap.bench.scenes.sources import Segment
from robustclap.contracts import layout
from robustclap.contracts.schema import SCENES, read_table
from robustclap.contracts.schema import col as c
from robustclap.training.audio import AudioFrontEnd


def read_scenes(scenes_dir: str | Path) -> list[Scene]:
    """The SCENES table back as Scene objects (recipes only: no audio is decoded)."""
    table = read_table(SCENES, Path(scenes_dir) / layout.SCENES_FILE).to_pandas()
    out = []
    for row in table.itertuples(index=False):
        events = tuple(Event(**{**e, "onsets_s": tuple(e["onsets_s"])})
                       for e in json.loads(getattr(row, c.events)))
        out.append(Scene(row.clip_id, row.split, float(row.duration_s), events,
                         tuple(getattr(row, c.relations)), (), row.caption, row.reworded))
    return out


def _key(scenes: list[Scene], frontend: AudioFrontEnd) -> str:
    """Hash of every scene's recipe and of the front end (not of the file's bytes, which
    change with the schema version while the scenes do not)."""
    h = hashlib.sha256()
    for s in scenes:
        h.update(f"{s.scene_id}\x1f{s.duration_s}\x1f{s.events_json()}\n".encode())
    h.update(frontend.cache_key.encode())
    return h.hexdigest()[:16]


def scene_features(scenes_dir: str | Path, scenes: list[Scene], frontend: AudioFrontEnd,
                   segments: dict[str, Segment] | None, data_dir: str | Path | None = None
                   ) -> np.ndarray:
    """Features of `scenes` (in order; (N, 1, frames, mels) float16 log-mels, or (N, 512)
    float32 frozen-tower embeddings), from the cache or rendered now (then `segments` cut at
    the front end's rate, or `data_dir` to load them, is needed)."""
    scenes_dir = Path(scenes_dir)
    every = read_scenes(scenes_dir)
    path = scenes_dir / "features" / f"{_key(every, frontend)}.npy"
    index_path = path.with_suffix(".ids.csv")
    if path.is_file() and index_path.is_file():
        ids = pd.read_csv(index_path)["clip_id"].tolist()
        pos = {k: i for i, k in enumerate(ids)}
        if all(s.scene_id in pos for s in scenes):
            feats = np.load(path, mmap_mode="r")
            return np.ascontiguousarray(feats[[pos[s.scene_id] for s in scenes]])
    if segments is None:
        from robustclap.bench.scenes.build import load_segments_for

        if data_dir is None:
            raise ValueError("features are not cached: pass segments or data_dir")
        segments = load_segments_for(data_dir, sr=frontend.sampling_rate)
    rng = np.random.default_rng(0)  # no crop happens: scenes are at most the 10 s window
    sr = frontend.sampling_rate
    feats = np.stack([frontend.features(render(s, segments, sr), rng)[0] for s in every])
    feats = feats.astype(np.float16 if feats.ndim > 2 else np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
    os.close(fd)
    with open(tmp, "wb") as fh:
        np.save(fh, feats, allow_pickle=False)
    os.replace(tmp, path)
    pd.DataFrame({"clip_id": [s.scene_id for s in every]}).to_csv(index_path, index=False)
    pos = {s.scene_id: i for i, s in enumerate(every)}
    return np.ascontiguousarray(feats[[pos[s.scene_id] for s in scenes]])
