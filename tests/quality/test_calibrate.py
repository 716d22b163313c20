"""Calibration: pair-file readers, the combined score, and AUCs on the real pair sets."""

from __future__ import annotations

import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.quality.calibrate import (
    calibrate,
    combined_score,
    gate_passes,
    load_pairs,
    markdown,
)


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


@pytest.mark.parametrize("fmt", ["stsb", "mrpc", "paws", "clotho"])
def test_a_pair_file_that_is_not_utf8_is_one_clear_error(tmp_path, config, fmt):
    f = tmp_path / "pairs.tsv"
    f.write_bytes("1\tA caf\u00e9 .\tThe caf\u00e9 .\t1\n".encode("latin-1"))
    with pytest.raises(RobustclapError, match=r"is not UTF-8 text \(byte 7"):
        load_pairs(f, fmt, config)


def test_malformed_rows_are_counted_with_their_line(tmp_path, config):
    paws = tmp_path / "dev.tsv"
    paws.write_text("id\tsentence1\tsentence2\tlabel\n"  # header: not a malformed row
                    "1\tA met B .\tB met A .\t0\n"
                    "2\tonly two columns\n"
                    "3\tA left .\tA went away .\tyes\n"
                    f"4\t{'x' * 140_000}\ty .\t1\n"  # over the csv module's field limit
                    "5\t \tA went away .\t1\n"
                    "6\tA left .\tA went away .\t1\n", encoding="utf-8")
    pairs = load_pairs(paws, "paws", config)
    assert pairs.labels == [0, 1]
    assert [(s["line"], s["reason"]) for s in pairs.skipped] == [
        (3, "2 tab-separated column(s), expected 4"), (4, "label 'yes' is not 0 or 1"),
        (5, "field larger than field limit (131072)"), (6, "empty sentence")]
    stsb = tmp_path / "sts.csv"
    stsb.write_text("main-captions\tMSRvid\t2012\t1\t4.5\tA dog runs.\tA dog is running.\n"
                    "main-captions\tMSRvid\t2012\t2\tnan\tA man sings.\tA cat sleeps.\n"
                    "main-captions\tMSRvid\t2012\t3\t7\tA man sings.\tA cat sleeps.\n"
                    "main-captions\tMSRvid\t2012\t4\t0.5\tA man sings.\tA cat sleeps.\n"
                    "main-news\tshort row\n", encoding="utf-8")
    pairs = load_pairs(stsb, "stsb", config, limit=2)
    assert [s["line"] for s in pairs.skipped] == [2, 3, 5]  # kept through --limit
    mrpc = tmp_path / "train.tsv"
    mrpc.write_text("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA.\tB.\n"
                    "2\t3\t4\tC.\tD.\n0\t5\t6\tE.\tF.\n", encoding="utf-8")
    assert [s["line"] for s in load_pairs(mrpc, "mrpc", config).skipped] == [3]
    clotho = tmp_path / "dev.csv"
    clotho.write_text("file_name,caption_1,caption_2\na.wav,one,two\nb.wav,only one,\n"
                      "c.wav,three,four\n", encoding="utf-8")
    assert load_pairs(clotho, "clotho", config).skipped == [
        {"line": 3, "reason": "fewer than two captions"}]


def test_single_class_pairs_are_refused_not_calibrated(tmp_path, config):
    f = tmp_path / "dev.tsv"
    f.write_text("1\tA left .\tA went away .\t1\n2\tA met B .\tA saw B .\t1\n", encoding="utf-8")
    with pytest.raises(RobustclapError, match=r"all 2 labelled pairs are paraphrases \(label "
                                              r"1\); calibration needs both"):
        load_pairs(f, "paws", config)
    f.write_text("1\tA left .\tA went away .\t1\n2\tA met B .\tB met A .\t0\n"
                 "3\tA sang .\tA cat slept .\t0\n", encoding="utf-8")
    seed0 = config.model_copy(update={"calibration": config.calibration.model_copy(
        update={"seed": 0})})  # seed 0 draws rows 2 and 3 of 3: a one-class subset
    with pytest.raises(RobustclapError, match="are non-paraphrases"):
        load_pairs(f, "paws", seed0, limit=2)


def test_report_counts_skipped_rows_and_advances_progress(tmp_path, config, scoring):
    f = tmp_path / "dev.tsv"
    f.write_text("1\tA dog barks .\tA dog is barking .\t1\n2\tA man sings .\tA car passes .\t0\n"
                 "3\tbroken row\n4\tRain falls .\tIt is raining .\t1\n"
                 "5\tA bell rings .\tWaves crash .\t0\n", encoding="utf-8")
    done: list[int] = []
    report = calibrate(f, "paws", config, scoring, advance=done.append)
    assert report["n_pairs"] == 4 and sum(done) == 4
    assert report["skipped"] == [{"line": 3, "reason": "2 tab-separated column(s), expected 4"}]
    assert "Skipped 1 malformed row(s): line 3: 2 tab-separated column(s)" in markdown(report)
