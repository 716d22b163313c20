"""Review features without a browser: filtered charts, outlier-proof axes, limits beside
scores, the CSV export and the versions the report names."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from robustclap.contracts.schema import col
from robustclap.dashboard import overview, queries, review
from robustclap.dashboard.corpus import Version, open_version
from robustclap.dashboard.queries import Filters
from robustclap.dashboard.report import render_report
from robustclap.dashboard.synthetic import write_version
from robustclap.quality.config import default_config_text
from robustclap.quality.decide import ALL_GATES, EMPTY, GENERATION_FAILED


@pytest.fixture()
def con():
    c = queries.connect()
    yield c
    c.close()


def test_filters_reach_the_charts(corpus: Path, con) -> None:
    v = open_version(corpus)
    scores = pd.read_parquet(v.scores).merge(
        pd.read_parquet(v.captions)[[col.caption_id, col.split]], on=col.caption_id)
    sel = scores[scores[col.split] == "train"]
    rates = queries.pass_rates(con, v, Filters(split="train"))
    for lv, group in sel.groupby(col.level):
        gates = group[col.failed_gates].map(list)
        scored = gates.map(lambda g: not g or g[0] not in (GENERATION_FAILED, EMPTY))
        n = int(scored.sum())
        fails = int(gates.map(lambda g: "sbert" in g).sum())
        assert rates[lv]["sbert"] == pytest.approx(1 - fails / n)
    assert rates != queries.pass_rates(con, v)
    assert queries.candidates_per_level(con, v, Filters(split="train")) == \
        sel.groupby(col.level).size().to_dict()
    ranges = queries.score_ranges(con, v)
    one = queries.histograms(con, v, ranges, 10, Filters(level=1, gate="sbert"))
    for per in one.values():
        assert set(per) == {1} and sum(per[1]["accepted"]) == 0  # only rejected rows
    text = queries.failed_by_reason(con, v, Filters(text="dog"))
    assert 0 < sum(n for _, n in text) < sum(n for _, n in queries.failed_by_reason(con, v))
    ov = overview.build(con, v, Filters(level=2))
    assert ov.filtered and set(ov.pass_rates) == {2}
    # the per-request text match (a temp table) selects exactly what the direct scan does
    f = Filters(text="rain", level=1)
    prepared = queries.prepare(con, v, f)
    assert prepared.text_keys and not f.text_keys
    assert queries.pass_rates(con, v, prepared) == queries.pass_rates(con, v, f)
    assert queries.failed_by_reason(con, v, prepared) == queries.failed_by_reason(con, v, f)


def test_axis_range_is_not_squashed_by_an_outlier(tmp_path: Path, con) -> None:
    root = tmp_path / "demo"
    write_version(root, 1, 200, seed=3)
    v = Version(root, 1)
    table = pq.read_table(v.scores)
    df = table.to_pandas()
    df.loc[df[col.length_ratio].notna().idxmax(), col.length_ratio] = 500.0
    pq.write_table(pa.Table.from_pandas(df, schema=table.schema, preserve_index=False), v.scores)
    full = queries.score_ranges(con, v)[col.length_ratio]
    tail = queries.score_ranges(con, v, tail=0.005)[col.length_ratio]
    assert full[1] == 500.0 and tail[1] < 5.0
    ov = overview.build(con, v)
    ranges, hists = overview.distributions(con, v, ov, bins=20, tail=0.005)
    per = hists[col.length_ratio]
    counted = sum(sum(p["accepted"]) + sum(p["rejected"]) for p in per.values())
    assert counted == int(df[col.length_ratio].notna().sum())  # the outlier is in the end bin
    assert ranges[col.length_ratio][1] < 5.0


def test_limits_and_why_name_score_and_threshold() -> None:
    rules = Path(__file__).resolve().parents[2] / "quality" / "gates-rules.yaml"
    cfg = yaml.safe_load(rules.read_text(encoding="utf-8"))  # thresholds on every score
    lims = review.limits(cfg, 1)
    sbert = [x for x in lims if x.gate == "sbert"]
    assert sbert and sbert[0].op == ">=" and sbert[0].score == col.sbert_cos
    assert not [x for x in lims if x.gate == "vocabulary_change"]  # a level-2 gate
    row = {col.level: 1, col.failed_gates: ["sbert"], col.sbert_cos: sbert[0].value - 0.1}
    assert review.why(row, cfg) == (f"sbert: sbert_cos {sbert[0].value - 0.1:.3f} "
                                    f"(limit >= {sbert[0].value:g}: FAIL)")
    assert set(g for g, *_ in review._LIMITS) <= set(ALL_GATES)


def test_csv_has_every_filtered_row(corpus: Path, con) -> None:
    v = open_version(corpus)
    rej = pd.read_parquet(v.rejected)
    f = Filters(level=2, split="train")
    text = b"".join(review.rejected_csv(con, v, f, chunk_rows=7)).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = rej[(rej[col.level] == 2) & (rej[col.split] == "train")]
    assert len(rows) == len(expected) > 7
    assert list(rows[0]) == review.CSV_COLUMNS
    total, page2 = review.rejected_with_scores(con, v, f, limit=5, offset=5)
    assert total == len(expected) and [r[col.caption_id] for r in page2] == \
        [r[col.caption_id] for r in rows[5:10]]


def test_candidates_of_one_caption(corpus: Path, con) -> None:
    v = open_version(corpus)
    cid = pd.read_parquet(v.rejected)[col.caption_id].iloc[0]
    rows = review.candidates_of(con, v, cid)
    cands = pd.read_parquet(v.candidates[0])
    assert len(rows) == int((cands[col.caption_id] == cid).sum()) == 4
    assert any(r[col.rank] is not None for r in rows) or any(r[col.failed_gates] for r in rows)
    assert review.candidates_of(con, v, "no-such-id") == []


def test_report_names_model_prompt_and_gate_versions(corpus: Path) -> None:
    html = render_report(corpus)
    assert "synthetic-llm" in html and "level 1: p1" in html and "synthetic0001" in html


def test_why_of_a_learned_decision_is_readable() -> None:
    cfg = yaml.safe_load(default_config_text())  # the shipped gate: learned models on
    th = cfg["learned"]["level2"]["wording"]
    row = {col.level: 2, col.failed_gates: ["wording"], col.wording_p: th / 2,
           col.decision_note: "level-2 wording 0.10 < 0.88: caption words kept [...] (-1.2)"}
    text = review.why(row, cfg)
    assert text.startswith(f"wording: P(wording right for the level) {th / 2:.3f} "
                           f"(limit >= {th:g})")
    assert "why: level-2 wording 0.10" in text


def test_alignment_is_shown_as_words_not_json() -> None:
    raw = json.dumps({"missing": ["hoot"], "added": ["hop"], "synonyms": [["car", "auto", 0.52]],
                      "wordnet": [["bird", "songbird", "wn_specific"]],
                      "roles": [{"action": "bark", "slot": "source", "caption": "dog",
                                 "candidate": "cat"}], "fragment": True})
    text = review.alignment_text(raw)
    assert text == ("missing: hoot · added: hop · bird → songbird (more specific: adds detail) · "
                    "car → auto (similar words, 0.52) · roles: bark source dog → cat · fragment")
    assert "{" not in text
    assert review.alignment_text(json.dumps({"missing": [], "added": []})) == "every word matched"
    assert review.alignment_text(None) == "–"
