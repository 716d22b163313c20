"""evaluate_model: deterministic results, features decoded once across models and tasks."""

from __future__ import annotations

import pandas as pd

import robustclap.training.evaluate as ev


def test_same_model_twice_gives_identical_results_and_decodes_each_file_once(
        tiny_clap_dir, generated_audio, generated_tables, tmp_path, monkeypatch):
    caps, corpus = generated_tables
    # zero-shot over 3 test/val clips and 2 clips that retrieval does not use
    names = ["clip01.wav", "clip04.wav", "flacclip.flac", "clip00.wav", "silent.wav"]
    pd.DataFrame({"filename": names, "label": ["a", "a", "b", "b", "b"]}).to_csv(
        tmp_path / "meta.csv", index=False)
    decoded = []
    real_load = ev.load_audio

    def counting_load(path, *args, **kwargs):
        decoded.append(path.name)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(ev, "load_audio", counting_load)
    cache: dict = {}
    runs = [ev.evaluate_model(str(tiny_clap_dir), generated_audio, caps, corpus, split="all",
                              zero_shot_meta=tmp_path / "meta.csv",
                              zero_shot_audio=generated_audio, cache=cache)
            for _ in range(2)]
    assert runs[0] == runs[1]
    # every file named by the captions or the meta CSV is decoded exactly once
    assert sorted(decoded) == sorted(set(decoded))
    assert {"clip01.wav", "silent.wav", "broken.wav"} <= set(decoded)
    r = runs[0]
    assert r["skipped_clips"] == {"empty": 1, "missing": 1, "silent": 1, "unreadable": 1}
    assert r["clips"] == 13  # 12 tones + the FLAC, across all splits
    assert r["zero_shot"]["clips"] == 4 and r["zero_shot"]["skipped_clips"] == {"silent": 1}
    # level-2 paraphrases exist for even-numbered clips only: 6 captions
    assert r["drop"]["level2"]["captions"] == 6
    assert r["drop"]["level2"]["original_same_captions"]["queries"] == 6
