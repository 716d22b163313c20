"""Fixtures for the flow tests: a small generated dataset (captions + WAVs) and configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

CLIPS = {  # clip id: (split, captions)
    "dog_01": ("train", ["A dog barks twice.", "Two barks from a dog."]),
    "rain_02": ("train", ["Rain falls on a roof.", "Steady rain on a roof."]),
    "bell_03": ("train", ["A bell rings and then stops.", "A bell rings once."]),
    "car_04": ("train", ["A car passes by quickly.", "A car drives past."]),
    "bird_05": ("test", ["Birds chirp in the morning.", "Birds are singing."]),
    "drum_06": ("test", ["Someone hits a drum slowly.", "A drum is struck."]),
}


def write_captions(path: Path, clips: dict = CLIPS) -> Path:
    lines = ["clip_id,split,caption"]
    for clip, (split, caps) in clips.items():
        lines += [f'{clip},{split},"{c}"' for c in caps]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def flow_audio(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("flow-audio")
    rng = np.random.default_rng(0)
    for i, clip in enumerate(CLIPS):
        t = np.arange(16000 * 2) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t) + 0.05 * rng.standard_normal(t.size)
        sf.write(folder / f"{clip}.wav", wave.astype(np.float32), 16000)
    return folder


@pytest.fixture
def run_config(tmp_path, vllm_server):
    """Write a run config for the generated set against the session's `vllm serve`."""

    def make(name: str = "flowtest", **extra) -> Path:
        write_captions(tmp_path / "captions.csv")
        cfg = {
            "name": name, "input": "captions.csv", "corpus_dir": "corpus", "work_dir": "work",
            "generate": {"model": "tiny", "base_url": vllm_server, "cache_dir": "cache",
                         "candidates": 1, "max_attempts": 2, "shard_size": 4,
                         "sampling": {"max_tokens": 40}},
            "regenerate_rounds": 1,
        }
        for key, value in extra.items():
            cfg[key] = value
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    return make
