"""The training view: join, split guard, skipped audio, per-epoch sampling, batching."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from robustclap.contracts.schema import CAPTIONS, CORPUS, write_table
from robustclap.training.data import build_training_view, read_captions, read_corpus
from robustclap.training.loader import EpochBatches, ExampleDataset, collate
from robustclap.training.splits import SplitLeakError, check_splits

SR = 48000


def frames(captions: list[dict], corpus: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    from robustclap.contracts.schema import to_arrow

    return (to_arrow(CAPTIONS, captions).to_pandas(),
            to_arrow(CORPUS, corpus).to_pandas() if corpus
            else CORPUS.schema.empty_table().to_pandas())


def test_clean_splits_pass(rows):
    caps = rows.captions({"a": "x", "b": "y", "c": "z"}, {"c": "test"})
    check_splits(*frames(caps, rows.corpus(caps, {("a", 1): ["p"], ("c", 2): ["q"]})),
                 ["train"])


def test_clip_in_train_and_test_is_refused(rows):
    caps = rows.captions({"a": "x", "b": "y"}, {"b": "test"})
    caps.append({**caps[1], "caption_id": "c-b2", "split": "train", "caption": "another"})
    with pytest.raises(SplitLeakError, match=r"1 clip\(s\).*\bb\b"):
        check_splits(*frames(caps, []), ["train"])


def test_paraphrase_of_a_test_clip_attached_to_a_training_caption_is_refused(rows):
    caps = rows.captions({"a": "x", "b": "y"}, {"b": "test"})
    corpus = rows.corpus(caps, {("a", 1): ["fine"]})
    # a row of test clip b, filed under training caption c-a (and labelled train)
    corpus.append({**corpus[0], "clip_id": "b", "paraphrase": "leak"})
    with pytest.raises(SplitLeakError, match="held-out clips would be trained on: clips b"):
        check_splits(*frames(caps, corpus), ["train"])


def test_paraphrase_split_must_match_its_caption(rows):
    caps = rows.captions({"a": "x", "b": "y"})
    corpus = rows.corpus(caps, {("a", 2): ["p"]})
    corpus[0]["split"] = "val"  # the corpus says clip a is a validation clip
    with pytest.raises(SplitLeakError, match="disagree with the caption table"):
        check_splits(*frames(caps, corpus), ["train"])


def test_view_joins_paraphrases_and_skips_bad_audio(generated_audio, generated_tables):
    cap_path, corpus_dir = generated_tables
    view = build_training_view(read_captions(cap_path), read_corpus(corpus_dir),
                               generated_audio, ["train"], SR)
    # 10 training clips with audio (clip01, clip04 are test, flacclip val) + 5 unusable
    assert view.stats["captions"] == 10 and view.stats["clips"] == 10
    assert view.skipped.counts() == {"empty": 1, "missing": 1, "silent": 1, "unreadable": 1}
    assert view.stats["captions_skipped"] == 4
    ex = {e.clip_id: e for e in view.examples}
    assert "clip01" not in ex and "flacclip" not in ex
    assert ex["clip02"].p1 == ("humming is tone number 2", "tone 2 hums")
    assert ex["clip02"].p2 == ("a beep labelled 2 drones",) and ex["clip03"].p2 == ()


def test_epoch_batches_cover_each_example_once_and_resume_mid_epoch():
    order = EpochBatches(23, 4, seed=3)
    assert len(order) == 5  # 20 of 23 examples per epoch, the incomplete batch dropped
    e0 = order.epoch(0)
    flat = [i for b in e0 for _, i in b]
    assert len(set(flat)) == 20 and all(len(b) == 4 for b in e0)
    assert order.epoch(0, start=2) == e0[2:]
    assert order.epoch(1) != e0  # reshuffled every epoch
    ranks = [EpochBatches(23, 2, seed=3, rank=r, world_size=2).epoch(0) for r in range(2)]
    assert [a + b for a, b in zip(*ranks, strict=True)] == e0  # ranks split the global batch


def test_dataset_samples_paraphrases_per_epoch_reproducibly(generated_audio, generated_tables):
    from transformers import ClapFeatureExtractor

    from robustclap.training.audio import AudioFrontEnd

    cap_path, corpus_dir = generated_tables
    view = build_training_view(read_captions(cap_path), read_corpus(corpus_dir),
                               generated_audio, ["train"], SR)
    fe = AudioFrontEnd(ClapFeatureExtractor(), "rand_trunc", "repeatpad")
    ds = ExampleDataset(view, fe, seed=0)
    i = next(k for k, e in enumerate(view.examples) if e.clip_id == "clip11")  # 12 s clip
    picks = {ds[(epoch, 0, i)]["p1"] for epoch in range(12)}
    assert picks == set(view.examples[i].p1)  # both accepted paraphrases get used
    a, b, c = ds[(0, 0, i)], ds[(0, 5, i)], ds[(1, 0, i)]
    assert a["p1"] == b["p1"] and np.array_equal(a["mel"], b["mel"])  # same (epoch, index)
    assert not np.array_equal(a["mel"], c["mel"])  # another epoch, another 10 s crop
    assert a["is_longer"]
    best = ExampleDataset(view, fe, seed=0, sampling="best")
    assert {best[(e, 0, i)]["p1"] for e in range(5)} == {view.examples[i].p1[0]}


def test_collate_runs_audio_once_per_clip():
    def item(clip, key, caption, p1=None):
        return {"epoch": 0, "batch": 3, "index": key, "clip_id": clip, "clip_key": key,
                "caption_id": caption, "mel": np.full((1, 4, 2), key, dtype=np.float32),
                "is_longer": False, "caption": caption, "p1": p1, "p2": None}

    batch = collate([item("a", 0, "one"), item("b", 1, "two", "p"), item("a", 0, "three")])
    assert batch.input_features.shape == (2, 1, 4, 2)
    assert batch.audio_index.tolist() == [0, 1, 0]
    assert batch.clip_keys.tolist() == [0, 1, 0]
    assert batch.p1 == [None, "p", None] and (batch.epoch, batch.batch) == (0, 3)


def test_tables_are_read_from_files_and_folders(tmp_path, rows):
    caps = rows.captions({"a": "x"})
    write_table(CAPTIONS, caps, tmp_path / "caps" / "part-0.parquet")
    write_table(CORPUS, rows.corpus(caps, {("a", 1): ["p"]}), tmp_path / "c.parquet")
    assert len(read_captions(tmp_path / "caps")) == 1
    assert read_corpus(tmp_path / "c.parquet")["paraphrase"].tolist() == ["p"]
    assert read_corpus(None).empty
