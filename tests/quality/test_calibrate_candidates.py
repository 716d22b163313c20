"""Calibration on hand-labelled LLM candidates (`calibrate --format candidates`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from robustclap.cli import app
from robustclap.contracts.errors import RobustclapError
from robustclap.quality import learned_fit as lf
from robustclap.quality.calibrate_candidates import Labelled, evaluate, load_labelled, mismatched
from robustclap.quality.config import GateConfig, load_config
from robustclap.quality.learned import check_spec

runner = CliRunner()
SHARED_DATA = Path(os.environ.get("ROBUSTCLAP_SHARED_DATA",
                                  Path(__file__).resolve().parents[3] / "shared" / "data"))
LABELLED = SHARED_DATA / "labelled_candidates" / "clotho_dev_smollm2.jsonl"
STRONG = SHARED_DATA / "labelled_candidates" / "clotho_dev_strong.jsonl"


def _line(**kw) -> str:
    row = {"caption": "A dog barks.", "level": 1, "candidate": "Barking, a dog.",
           "meaning_ok": True, "level_ok": True}
    row.update(kw)
    return json.dumps(row)


def test_malformed_rows_are_counted_not_dropped(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join([
        _line(), "{not json", _line(level=3), _line(meaning_ok="yes"), '["a list"]',
        json.dumps({"caption": "x", "level": 1}), _line(candidate="a\u2028b"), "",
    ]), encoding="utf-8")
    rows, bad = load_labelled(f)
    assert len(rows) == 2  # U+2028 inside a string stays inside its record
    assert [b["line"] for b in bad] == [2, 3, 4, 5, 6]
    assert "level 3" in bad[1]["reason"] and "missing field" in bad[4]["reason"]


@pytest.mark.parametrize("content", [b"\xff\xfe\x00bad", b"\n\n", b"{broken"])
def test_unreadable_pair_files_are_one_clear_error(tmp_path, content):
    f = tmp_path / "c.jsonl"
    f.write_bytes(content)
    with pytest.raises(RobustclapError, match="UTF-8|no labelled candidates"):
        load_labelled(f)


def _rules_only(level1_sim: float = 0.8) -> GateConfig:
    """The shipped rules with the learned models off and a similarity rule at level 1."""
    cfg = load_config()
    level1 = cfg.gates.level1.model_copy(update={"sbert_min": level1_sim,
                                                  "bertscore_f1_min": level1_sim})
    return cfg.model_copy(update={
        "learned": cfg.learned.model_copy(update={"enabled": False}),
        "gates": cfg.gates.model_copy(update={"level1": level1})})


def _rows_and_scores(case):
    """Level-1 rows whose SBERT/BERTScore alone separate meaning (other gates pass)."""
    base = case.PASSING_STRUCTURE
    rows, scores = [], []
    for i, (sim, ok) in enumerate([(0.97, True), (0.93, True), (0.9, True), (0.88, False),
                                   (0.86, True), (0.82, False), (0.7, False)]):
        rows.append(Labelled(i + 1, "c", 1, f"p{i}", ok, ok))
        scores.append({**base, "sbert_cos": sim, "bertscore_f1": sim})
    return rows, scores


def test_report_counts_precision_recall_and_false_accepts(case):
    rows, scores = _rows_and_scores(case)
    report = evaluate(rows, scores, _rules_only(), "synthetic", [])["levels"]["1"]
    # thresholds 0.80: everything but the 0.7 row passes
    assert report["accepted"] == 6 and report["wrong_accepted"] == 2
    assert report["precision"] == pytest.approx(4 / 6)
    assert report["goals"]["precision"] is False
    assert [fa["line"] for fa in report["false_accepts"]] == [4, 6]
    assert report["caught_first_by"] == {"sbert": 1}


def _synthetic_sets(case, n_captions: int = 40):
    """Two labelled sets whose meaning follows SBERT and whose wording follows structure_edit,
    with noise a linear model must live with: a fit should find both directions."""
    rng = np.random.default_rng(0)
    rows, scores = [], []
    for source in ("gen_a", "gen_b"):
        for c in range(n_captions):
            for level in (1, 2):
                for k in range(3):
                    sim = float(rng.uniform(0.3, 1.0))
                    edit = float(rng.uniform(0.0, 0.8))
                    ok_meaning = sim > 0.65
                    ok_wording = edit > 0.3
                    rows.append(Labelled(len(rows) + 1, f"{source} caption {c}", level,
                                         f"{source} candidate {c} {level} {k}", ok_meaning,
                                         ok_wording, source))
                    scores.append({**case.PASSING_STRUCTURE, "sbert_cos": sim,
                                   "bertscore_f1": sim, "structure_edit": edit,
                                   "token_edit": edit, "content_recall": 1.0 - edit / 4,
                                   "content_novelty": edit / 4 if level == 1 else edit})
    return rows, scores


def test_fit_learns_the_directions_and_meets_the_targets_on_its_rows(case):
    rows, scores = _synthetic_sets(case)
    cfg = load_config()
    t = lf.table(rows, scores, cfg)
    learned, chosen = lf.fit_learned(t, np.arange(len(rows)), cfg)
    fitted = lf.with_learned(cfg, learned)
    assert fitted.version != cfg.version
    meaning = learned.meaning.features
    assert meaning["sbert_cos"].weight > 0  # more similar, more likely the same scene
    assert learned.wording_level1.features["structure_edit"].weight > 0
    assert chosen["1"]["targets_met"] and chosen["2"]["targets_met"]
    after = evaluate(rows, scores, fitted, "synthetic", [])["levels"]
    for level in ("1", "2"):
        assert after[level]["accepted"] > 0
        assert after[level]["precision"] >= 0.95
        assert after[level]["accepted_good"] / after[level]["accepted"] >= 0.85


def test_out_of_sample_report_covers_every_set_and_the_cross_set_fits(case):
    rows, scores = _synthetic_sets(case, n_captions=25)
    result = lf.cross_validate(lf.table(rows, scores, load_config()), load_config())
    assert set(result["grouped_cv"]) == {"gen_a", "gen_b"}
    assert set(result["cross_set"]) == {"fit gen_b -> test gen_a", "fit gen_a -> test gen_b"}
    cv = result["grouped_cv"]["gen_a"]["1"]
    assert cv["candidates"] == 75 and cv["accepted"] > 0
    assert "| grouped CV (by caption) | gen_a | 1 |" in lf.markdown(result)


def test_mismatched_pairs_are_sure_negatives_never_reported(case):
    rows, _ = _synthetic_sets(case, n_captions=5)
    extra = mismatched(rows, seed=0)
    assert len(extra) == 2 * 2 * 5  # one per (set, level, caption)
    assert all(e.synthetic and not e.meaning_ok for e in extra)
    assert all(e.candidate.split()[2] != e.caption.split()[2] for e in extra)


def test_a_stored_weight_against_its_direction_is_refused():
    check_spec("meaning", {"sbert_cos": 0.5, "align_missing": -0.2})
    with pytest.raises(ValueError, match="against its direction"):
        check_spec("meaning", {"align_missing": 0.3})
    with pytest.raises(ValueError, match="unknown feature"):
        check_spec("wording_level1", {"sbert_cos": 0.1})


def test_shipped_gate_out_of_sample_on_the_shared_labelled_sets(tmp_path):
    """Issue 22, measured the honest way: the fitting procedure's figures out of sample
    (grouped by caption; fit on one generator's set, test on the other's), and the shipped
    config is what that procedure writes from both sets. What holds is asserted; what does not
    (level-2 recall, level-1 precision on SmolLM2 rows) is in the report and quality/README.md."""
    for path in (LABELLED, STRONG):
        if not path.is_file():
            pytest.skip(f"real data not available: {path} is absent")
    out = tmp_path / "report.json"
    fitted = tmp_path / "fitted.yaml"
    result = runner.invoke(app, ["calibrate", "--format", "candidates", "--pairs", str(LABELLED),
                                 "--pairs", str(STRONG), "--cv", "--out", str(out),
                                 "--fit", str(fitted), "--threads", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["rows"] == 1000 and report["skipped"] == []
    # the shipped config is the procedure's output on the shared sets, not a hand edit
    assert load_config(fitted).version == load_config().version
    cv = report["out_of_sample"]["grouped_cv"]
    strong1 = cv["clotho_dev_strong"]["1"]
    assert strong1["precision"] >= 0.95 and strong1["recall_good"] >= 0.8
    assert strong1["accepted_good"] / strong1["accepted"] >= 0.85
    for level in ("1", "2"):  # wrong meaning accepted <= 1 % of the SmolLM2 set's wrong rows
        smol = cv["clotho_dev_smollm2"][level]
        assert smol["wrong_accepted"] <= 0.01 * smol["wrong_total"], smol["false_accepts"]
        strong = cv["clotho_dev_strong"][level]
        assert strong["accepted"] > 0  # not an empty gate at either level
    for level, r in report["levels"].items():  # in sample, the shipped config
        assert r["accepted"] > 0 and r["precision"] >= 0.95, (level, r["false_accepts"])
