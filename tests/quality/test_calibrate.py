"""Calibration: pair-file readers, the combined score, and AUCs on the real pair sets."""

from __future__ import annotations

import pytest

from pipeline.errors import RobustclapError
from quality.calibrate import calibrate, combined_score, gate_passes, load_pairs


def test_stsb_reader_keeps_quotes_and_the_genre(tmp_path, config):
    f = tmp_path / "sts.csv"
    f.write_text(
        'main-captions\tMSRvid\t2012\t0001\t4.5\tA "big" dog runs.\tA large dog runs.\n'
        "main-captions\tMSRvid\t2012\t0002\t1.0\tA man sings.\tA cat sleeps.\n"
        "main-news\tnews\t2012\t0003\t5.0\tStocks fell.\tStocks dropped.\n",
        encoding="utf-8",
    )
    pairs = load_pairs(f, "stsb", config)
    assert pairs.pairs == [('A "big" dog runs.', "A large dog runs."),
                           ("A man sings.", "A cat sleeps.")]
    assert pairs.labels == [1, 0]  # 4.5 >= 4 is a paraphrase
    assert len(load_pairs(f, "stsb", config, genre=None).pairs) == 3


def test_mrpc_reader_skips_bom_and_header(tmp_path, config):
    f = tmp_path / "train.tsv"
    f.write_text("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                 "1\t1\t2\tHe said \"yes\".\tHe agreed.\n0\t3\t4\tIt rained.\tIt was sunny.\n",
                 encoding="utf-8")
    pairs = load_pairs(f, "mrpc", config)
    assert pairs.labels == [1, 0]
    assert pairs.pairs[0] == ('He said "yes".', "He agreed.")


def test_paws_reader_handles_crlf(tmp_path, config):
    f = tmp_path / "dev.tsv"
    f.write_bytes(b"1\tA met B .\tB met A .\t0\r\n2\tA left .\tA went away .\t1\r\n")
    pairs = load_pairs(f, "paws", config)
    assert pairs.pairs == [("A met B .", "B met A ."), ("A left .", "A went away .")]
    assert pairs.labels == [0, 1]


def test_clotho_pairs_are_seeded_and_balanced(tmp_path, config):
    f = tmp_path / "dev.csv"
    rows = ["file_name,caption_1,caption_2,caption_3,caption_4,caption_5"]
    rows += [f"clip{i}.wav,a{i} one,a{i} two,a{i} three,a{i} four,a{i} five" for i in range(20)]
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    first = load_pairs(f, "clotho", config)
    assert first.pairs == load_pairs(f, "clotho", config).pairs
    assert len(first.pairs) == config.calibration.sample_pairs
    assert sum(first.labels) == len(first.labels) // 2
    for (a, b), y in zip(first.pairs, first.labels, strict=True):
        assert (a.split()[0] == b.split()[0]) == bool(y)  # same clip <=> positive
        assert a != b


def test_unknown_format_and_missing_file_are_user_errors(tmp_path, config):
    with pytest.raises(RobustclapError, match="unknown pair format"):
        load_pairs(tmp_path, "snli", config)
    with pytest.raises(RobustclapError, match="not found"):
        load_pairs(tmp_path / "none.tsv", "paws", config)


def test_combined_score_is_monotone(config):
    base = {"sbert_cos": 0.9, "bertscore_f1": 0.9, "role_swaps": 0, "reattachments": 0,
            "order_violations": 0, "number_diff": 0, "negation_diff": 0,
            "content_recall": 1.0, "content_novelty": 0.0}
    clean = combined_score(base, config)
    assert clean == pytest.approx(0.9)
    for name in ("role_swaps", "reattachments", "order_violations", "number_diff",
                 "negation_diff", "content_novelty"):
        assert combined_score({**base, name: 1}, config) < clean, name
    assert combined_score({**base, "content_recall": 0.5}, config) < clean
    assert combined_score({**base, "sbert_cos": 0.95}, config) > clean
    assert gate_passes(base, config)
    assert not gate_passes({**base, "role_swaps": 1}, config)


@pytest.mark.parametrize(("fmt", "path"), [("paws", "paws/dev.tsv"), ("mrpc", "mrpc/train.tsv")])
def test_combined_beats_each_encoder_on_real_pairs(pair_data, config, scoring, fmt, path):
    """Subsampled with the config's seed to keep the suite short; full-set numbers are in
    quality/README.md (from `robustclap calibrate`)."""
    report = calibrate(pair_data / path, fmt, config, scoring, limit=600)
    auc = report["auc"]
    assert report["n_pairs"] == 600
    assert auc["combined"] > auc["sbert_cos"]
    assert auc["combined"] > auc["bertscore_f1"]
