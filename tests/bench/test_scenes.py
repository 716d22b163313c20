"""Sound scenes (issue 18): phrase tables, the caption grammar, composition from real ESC-50 and
BigSoundBank clips with disjoint train/test recordings, rendering, and the scene CLAP's training
step with and without paraphrase views."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from robustclap.bench.scenes import phrases as P
from robustclap.bench.scenes.compose import Event, caption_of

REPO = Path(__file__).resolve().parents[2]
# function words; "times" too: "three times" (training) and "a couple of times" (held out)
_STOP_TEXT = ("a an the of and in on at to by with their its is are be it up off out down "
              "along away past across into through over times")
STOP = frozenset(_STOP_TEXT.split())


def _stem(w: str) -> str:
    for suf in ("ing", "es", "ed", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            return w[: -len(suf)]
    return w


def _words(text: str) -> set[str]:
    text = re.sub(r"\{\w+\}", " ", text)
    return {_stem(w) for w in re.findall(r"[a-z]+", text.lower()) if w not in STOP}


def test_every_class_has_phrases_and_a_rewording() -> None:
    assert set(P.REWORDINGS) == set(P.PHRASES)
    for cls, p in P.PHRASES.items():
        assert p.clauses and len(p.clauses) == len(p.nouns), cls


def test_rewordings_share_no_content_word_with_training_captions_or_prompts() -> None:
    train: set[str] = set()
    for p in P.PHRASES.values():
        for t in p.clauses + p.nouns:
            train |= _words(t)
    for t in P.SEQUENCE_TEMPLATES + P.OVERLAP_TEMPLATES + tuple(P.COUNT_WORDS.values()):
        train |= _words(t)
    prompts = set().union(*(_words((REPO / "prompts" / f).read_text())
                            for f in ("level1.yaml", "level2.yaml")))
    held = [t for pair in P.REWORDINGS.values() for t in pair]
    held += list(P.SEQUENCE_REWORDINGS + P.OVERLAP_REWORDINGS) + list(P.COUNT_REWORDINGS.values())
    for text in held:
        assert not _words(text) & train, (text, _words(text) & train)
        assert not _words(text) & prompts, (text, _words(text) & prompts)


def _ev(cls: str, count: int = 1, variant: int = 0) -> Event:
    return Event(cls, f"esc50/{cls}", count, tuple(float(i) for i in range(count)), 0.8, variant)


def test_caption_grammar_and_its_rewording() -> None:
    events = (_ev("dog", 2), _ev("rain"), _ev("cat", 3))
    assert caption_of(events, ("sequence", "overlap"), (0, 0)) == \
        "A dog barks twice, then rain falls while a cat meows three times."
    assert caption_of(events[:2], ("sequence",), (1,)) == \
        "A dog barks twice, followed by rain falling."
    assert caption_of(events, ("sequence", "overlap"), (0, 0), reworded=True) == (
        "A puppy woofs a couple of times, and subsequently showers drum down "
        "simultaneously with a kitty mewing thrice.")


@pytest.fixture(scope="module")
def scene_set(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    from robustclap.bench.scenes.build import build_scenes

    out = tmp_path_factory.mktemp("scenes")
    return build_scenes(shared_data, out, n_train=24, n_test=12, n_paraphrase=5, seed=3)


def test_sources_keep_each_recording_on_one_side(shared_data: Path) -> None:
    from robustclap.bench.scenes.sources import list_sources

    sources = list_sources(shared_data)
    sides: dict[str, set[str]] = {}
    for s in sources:
        sides.setdefault(s.group, set()).add(s.split)
    assert all(len(v) == 1 for v in sides.values())
    test_classes = {s.cls for s in sources if s.split == "test"}
    train_classes = {s.cls for s in sources if s.split == "train"}
    assert len(test_classes) >= 45 and test_classes <= train_classes


def test_scene_set_splits_sources_and_writes_tables(scene_set, shared_data: Path) -> None:
    import json

    from robustclap.bench.scenes.sources import list_sources
    from robustclap.contracts.schema import CAPTIONS, SCENES, read_table

    out = scene_set.out
    scenes = read_table(SCENES, out / "scenes.parquet").to_pandas()
    assert (scenes["split"] == "train").sum() == 24 and (scenes["split"] == "test").sum() == 12
    assert scenes["duration_s"].between(5.0, 10.0).all()
    assert scenes.loc[scenes["split"] == "test", "caption"].is_unique
    split_of = {s.source_id: s.split for s in list_sources(shared_data, seed=3)}
    for row in scenes.itertuples():
        events = json.loads(row.events)
        assert 1 <= len(events) <= 3 and len(row.relations) == len(events) - 1
        for e in events:
            assert split_of[e["source"]] == row.split  # no recording on both sides
            assert 1 <= e["count"] <= 3 and len(e["onsets_s"]) == e["count"]
    caps = read_table(CAPTIONS, out / "captions.parquet").to_pandas()
    assert sorted(caps["clip_id"]) == sorted(scenes["clip_id"])
    para = pd.read_csv(out / "paraphrase" / "scenes.csv")
    assert (para["split"] == "train").sum() == 5 and (para["split"] == "test").sum() == 12
    assert set(para["caption"]) <= set(caps["caption"])


def test_render_places_every_repeat(scene_set, shared_data: Path) -> None:
    from robustclap.bench.scenes.build import load_segments_for
    from robustclap.bench.scenes.compose import render
    from robustclap.bench.scenes.sources import SAMPLE_RATE

    segments = load_segments_for(shared_data, seed=3)
    for scene in scene_set.scenes[:6]:
        wave = render(scene, segments)
        assert len(wave) == round(scene.duration_s * SAMPLE_RATE)
        assert 0.05 < float(np.max(np.abs(wave))) <= 0.95 + 1e-6
        for e in scene.events:
            for onset in e.onsets_s:  # sound right after each onset
                i = int(onset * SAMPLE_RATE)
                assert np.abs(wave[i:i + SAMPLE_RATE // 2]).max() > 0.01
    again = render(scene_set.scenes[0], segments)
    assert np.array_equal(again, render(scene_set.scenes[0], segments))


def test_scene_clap_reads_scenes_at_their_rate() -> None:
    """The scene CLAP (training) and the scene composer (bench) name the rate apart."""
    from robustclap.bench.scenes.sources import SAMPLE_RATE
    from robustclap.training import scene_clap

    assert scene_clap.SAMPLE_RATE == SAMPLE_RATE == 16_000


def _train_set(n: int = 16):
    from robustclap.training.fit_features import TrainSet

    rng = np.random.default_rng(0)
    caps = [f"A dog barks {w}, then rain falls." for w in ("twice", "three times")] * (n // 2)
    p1 = [("Rain falls after a dog barks.",) if i % 2 else () for i in range(n)]
    p2 = [("A hound yelps, then showers come.",) if i % 3 else () for i in range(n)]
    return TrainSet(rng.standard_normal((n, 1, 126, 32)).astype(np.float16), caps, p1, p2)


@pytest.fixture
def one_thread():
    """One torch thread: on a busy 2-core machine OpenMP's second thread spin-waits (a tiny
    step took 2.8 s with two threads, 0.5 s with one, measured beside a vLLM engine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_fit_same_start_for_every_setting_and_views_add_terms(one_thread) -> None:
    from robustclap.training.fit_features import FitConfig, fit
    from robustclap.training.scene_clap import build_scene_clap, build_tokenizer

    data = _train_set()
    tok = build_tokenizer(data.captions + [t for ps in data.p1 + data.p2 for t in ps], 300)
    cfg = FitConfig(steps=2, batch_size=8, warmup_steps=1)
    plain = fit(build_scene_clap(tok, 0), data, {1: 0.0, 2: 0.0}, cfg, seed=0)
    again = fit(build_scene_clap(tok, 0), data, {1: 0.0, 2: 0.0}, cfg, seed=0)
    multi = fit(build_scene_clap(tok, 0), data, {1: 1.0, 2: 1.0}, cfg, seed=0)
    assert len(plain) == 2 and all(np.isfinite(plain + multi))
    assert plain == again  # seeded: same model, batches, picks
    assert multi[0] > plain[0]  # same model and batch: L_clap + L_p1 + L_p2 > L_clap


def test_relative_drop_and_retrieval() -> None:
    from robustclap.bench.scenes.experiment import relative_drop
    from robustclap.training.fit_features import text_to_audio

    audio = np.eye(3)
    text = np.array([[1.0, 0, 0], [0, 0.2, 0.9], [0, 0, 1.0]])
    m = text_to_audio(audio, text, [0, 1, 2])
    assert m["R@1"] == pytest.approx(2 / 3) and m["R@5"] == 1.0
    d = relative_drop({"R@1": 0.5, "R@5": 1.0, "R@10": 1.0, "mAP@10": 0.0},
                      {"R@1": 0.25, "R@5": 1.0, "R@10": 0.5, "mAP@10": 0.0})
    assert d == {"R@1": 0.5, "R@5": 0.0, "R@10": 0.5, "mAP@10": None}


def test_scenes_command_bad_input_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    for args, words in ((["--data", str(tmp_path)], "ESC-50 not found"),
                        (["--train", "0"], "must be at least 1")):
        result = subprocess.run(
            [sys.executable, "-m", "robustclap", "scenes", "--no-paraphrase", "--out",
             str(tmp_path / "out"), *args], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert words in result.stderr and "Traceback" not in result.stderr
