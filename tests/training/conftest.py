"""Fixtures of the training tests: the tiny CLAP, generated WAVs, real ESC-50 tables."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
ESC50 = SHARED / "esc50"
BIGSOUNDBANK = SHARED / "bigsoundbank"


def _load_esc50_tables():
    """tests/training/esc50_tables.py as a module (tests run with --import-mode=importlib)."""
    name = "robustclap_test_esc50_tables"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(
            "esc50_tables.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def esc50_tables():
    return _load_esc50_tables()


@pytest.fixture(scope="session")
def esc50_dir() -> Path:
    if not (ESC50 / "meta.csv").is_file():
        pytest.skip(f"real ESC-50 data not found at {ESC50} (../shared/data is absent)")
    return ESC50


@pytest.fixture(scope="session")
def bigsoundbank_dir() -> Path:
    if not (BIGSOUNDBANK / "labels.csv").is_file():
        pytest.skip(f"BigSoundBank data not found at {BIGSOUNDBANK} (../shared/data is absent)")
    return BIGSOUNDBANK


@pytest.fixture(scope="session")
def tiny_clap_dir(tmp_path_factory) -> Path:
    """The tiny random checkpoint, written once per session like `robustclap tiny-clap`."""
    from robustclap.training.tiny import save_tiny_clap

    return save_tiny_clap(tmp_path_factory.mktemp("tiny") / "clap")


def tone(freq: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="session")
def generated_audio(tmp_path_factory) -> Path:
    """Twelve usable clips (various rates, mono/stereo, 1-12 s) and four unusable files."""
    folder = tmp_path_factory.mktemp("wavs")
    rates = [16000, 22050, 44100, 48000]
    for i in range(12):
        sr = rates[i % 4]
        wave = tone(220.0 * (1 + i / 3), 1.0 + i, sr)
        wave += np.random.default_rng(i).normal(0, 0.02, len(wave)).astype(np.float32)
        if i % 3 == 0:
            wave = np.stack([wave, 0.5 * wave], axis=1)  # stereo
        sf.write(folder / f"clip{i:02d}.wav", wave, sr)
    sf.write(folder / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    sf.write(folder / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    (folder / "broken.wav").write_bytes(b"this is not a wav file at all")
    sf.write(folder / "flacclip.flac", tone(330.0, 2.0, 32000), 32000)
    return folder


def caption_rows(clips: dict[str, str], splits: dict[str, str] | None = None) -> list[dict]:
    """CAPTIONS rows: one caption per clip (caption id c-<clip>), split train by default."""
    splits = splits or {}
    return [{"caption_id": f"c-{clip}", "clip_id": clip, "split": splits.get(clip, "train"),
             "caption": text, "source": "test", "source_file": "test", "source_row": i}
            for i, (clip, text) in enumerate(clips.items())]


def corpus_rows(captions: list[dict], paraphrases: dict[tuple[str, int], list[str]]
                ) -> list[dict]:
    """CORPUS rows inheriting clip and split from their caption row."""
    by_clip = {r["clip_id"]: r for r in captions}
    rows = []
    for (clip, level), texts in paraphrases.items():
        cap = by_clip[clip]
        for rank, text in enumerate(texts):
            rows.append({"caption_id": cap["caption_id"], "clip_id": clip,
                         "split": cap["split"], "source": "test", "caption": cap["caption"],
                         "level": level, "candidate": rank, "paraphrase": text, "rank": rank,
                         "gate_version": "test"})
    return rows


@pytest.fixture(scope="session")
def rows():
    """The two row builders above, for test modules (conftest is not importable by name)."""
    return SimpleNamespace(captions=caption_rows, corpus=corpus_rows)


@pytest.fixture(scope="session")
def generated_tables(generated_audio, tmp_path_factory) -> tuple[Path, Path]:
    """Captions for the generated clips (and the unusable ones), with a few paraphrases."""
    from robustclap.contracts.schema import CAPTIONS, CORPUS, write_table

    clips = {f"clip{i:02d}": f"a tone number {i} hums" for i in range(12)}
    clips.update({"flacclip": "a high tone", "silent": "nothing at all", "empty": "empty",
                  "broken": "a broken file", "nofile": "a clip without audio"})
    splits = {"clip01": "test", "clip04": "test", "flacclip": "val"}
    caps = caption_rows(clips, splits)
    paras = {}
    for i in range(12):
        paras[(f"clip{i:02d}", 1)] = [f"humming is tone number {i}", f"tone {i} hums"]
        if i % 2 == 0:
            paras[(f"clip{i:02d}", 2)] = [f"a beep labelled {i} drones"]
    folder = tmp_path_factory.mktemp("tables")
    cap = write_table(CAPTIONS, caps, folder / "captions.parquet")
    write_table(CORPUS, corpus_rows(caps, paras), folder / "corpus" / "accepted.parquet")
    return cap, folder / "corpus"
