"""The dashboard's SQL gives the same numbers as pandas on the same files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import col, status
from robustclap.contracts.stage import StageStats
from robustclap.dashboard import overview, queries
from robustclap.dashboard.corpus import Version, open_version
from robustclap.dashboard.queries import Filters
from robustclap.quality.decide import ALL_GATES, EMPTY, GENERATION_FAILED


@pytest.fixture()
def con():
    c = queries.connect()
    yield c
    c.close()


def frames(v: Version) -> dict[str, pd.DataFrame]:
    return {
        "captions": pd.read_parquet(v.captions),
        "candidates": pd.concat(pd.read_parquet(p)
                                for p in sorted((v.path / "candidates").glob("*.parquet"))),
        "accepted": pd.read_parquet(v.accepted),
        "rejected": pd.read_parquet(v.rejected),
        "scores": pd.read_parquet(v.scores),
    }


def test_open_version_defaults_to_latest_and_refuses_unknown(corpus: Path) -> None:
    assert open_version(corpus).number == 2
    assert open_version(corpus, 1).number == 1
    with pytest.raises(RobustclapError, match="no version v7"):
        open_version(corpus, 7)
    with pytest.raises(RobustclapError, match="no published corpus"):
        open_version(corpus / "finetune")


def test_counts_match_pandas(corpus: Path, con) -> None:
    v = open_version(corpus)
    d = frames(v)
    c = queries.counts(con, v)
    cands = d["candidates"]
    assert c == {
        "captions": len(d["captions"]), "candidates": len(cands),
        "llm_ok": int((cands[col.status] == status.ok).sum()),
        "llm_failed": int((cands[col.status] != status.ok).sum()),
        "prompt_tokens": int(cands[col.prompt_tokens].sum()),
        "completion_tokens": int(cands[col.completion_tokens].sum()),
        "accepted": len(d["accepted"]),
    }
    assert 0 < c["accepted"] < c["candidates"] and c["llm_failed"] > 0
    assert queries.accepted_per_level(con, v) == \
        d["accepted"].groupby(col.level).size().to_dict()
    assert queries.candidates_per_level(con, v) == \
        d["scores"].groupby(col.level).size().to_dict()
    expected = cands[cands[col.status] != status.ok][col.fail_reason].value_counts()
    assert dict(queries.failed_by_reason(con, v)) == expected.to_dict()


def test_pass_rates_match_pandas(corpus: Path, con) -> None:
    v = open_version(corpus)
    s = frames(v)["scores"]
    rates = queries.pass_rates(con, v)
    assert sorted(rates) == [1, 2]
    for lv, group in s.groupby(col.level):
        gates = group[col.failed_gates].map(list)
        scored = gates.map(lambda g: not g or g[0] not in (GENERATION_FAILED, EMPTY))
        for gate in ALL_GATES:
            n = len(group) if gate in (GENERATION_FAILED, EMPTY) else int(scored.sum())
            fails = int(gates.map(lambda g, gate=gate: gate in g).sum())
            assert rates[lv][gate] == pytest.approx(1 - fails / n), (lv, gate)
    assert rates[1]["sbert"] < 1.0 and rates[2]["vocabulary_change"] < 1.0


def test_histograms_match_pandas(corpus: Path, con) -> None:
    v = open_version(corpus)
    d = frames(v)
    keys = [col.caption_id, col.level, col.candidate]
    s = d["scores"].merge(d["accepted"][keys].assign(ok=True), on=keys, how="left")
    s["ok"] = s["ok"].fillna(False).astype(bool)
    ranges = queries.score_ranges(con, v)
    bins = 20
    hists = queries.histograms(con, v, ranges, bins)
    assert set(hists) == {c for c, _ in queries.DIST_SCORES}
    for score, (lo, hi) in ranges.items():
        assert lo == pytest.approx(s[score].min()) and hi == pytest.approx(s[score].max())
        w = (hi - lo) / bins
        for (lv, ok), group in s.dropna(subset=[score]).groupby([col.level, "ok"]):
            b = np.clip(np.floor((group[score].to_numpy() - lo) / w), 0, bins - 1).astype(int)
            expected = np.bincount(b, minlength=bins).tolist()
            assert hists[score][lv]["accepted" if ok else "rejected"] == expected, (score, lv)


def test_thresholds_come_from_the_versions_gate_config(corpus: Path, con) -> None:
    v = open_version(corpus)
    ov = overview.build(con, v)
    assert ov.thresholds == overview.thresholds(v.gate_config()) and ov.thresholds
    ranges, _ = overview.distributions(con, v, ov)
    for score, per_level in ov.thresholds.items():
        lims = [x for xs in per_level.values() for x in xs]
        lo, hi = ranges[score]
        assert lo <= min(lims) and hi >= max(lims), score  # every threshold line is drawn
    assert ov.throughput["accepted_per_hour"] == pytest.approx(ov.counts["accepted"])  # 1 h
    (gm,) = (StageStats.from_dict(m) for m in v.generation_manifests())
    assert ov.throughput["rows_per_s"] == pytest.approx(gm.counts["rows_per_s"])
    assert ov.throughput["tokens_per_s"] == pytest.approx(gm.counts["completion_tokens"] / 3000.0)


def test_thresholds_per_score_and_level() -> None:
    cfg = {"gates": {"degenerate": {"length_ratio_min": 0.5, "length_ratio_max": 4.0},
                     "level1": {"sbert_min": 0.8, "content_recall_min": 0.75},
                     "level2": {"sbert_min": 0.3, "content_recall_max": None,
                                "content_novelty_min": 0.4}}}
    th = overview.thresholds(cfg)
    assert th[col.sbert_cos] == {1: [0.8], 2: [0.3]}
    assert th[col.content_recall] == {1: [0.75], 2: []}  # null: gate off, no line
    assert th[col.content_novelty] == {1: [], 2: [0.4]}
    assert th[col.length_ratio] == {1: [0.5, 4.0], 2: [0.5, 4.0]}


def test_throughput_sums_rounds() -> None:
    """One round in a manifest older than StageStats (flat keys), one in StageStats' form."""
    old = {"wall_s": 100.0, "generate_wall_s": 10.0, "rows_written": 50,
           "completion_tokens": 1000, "llm_calls": 60}
    new = StageStats("generate", "complete", 30, 30, 0, 80.0, counts={
        "generate_wall_s": 30.0, "rows_written": 30, "completion_tokens": 600, "llm_calls": 40})
    rounds = [StageStats.from_dict(d, legacy="generate") for d in (old, new.to_dict())]
    t = overview.throughput(rounds, accepted=90)
    assert t["rows_per_s"] == pytest.approx(2.0) and t["tokens_per_s"] == pytest.approx(40.0)
    assert t["accepted_per_hour"] == pytest.approx(1800.0) and t["llm_calls"] == 100
    assert overview.throughput([], accepted=5)["accepted_per_hour"] is None


def test_side_by_side_filters_match_pandas(corpus: Path, con) -> None:
    v = open_version(corpus)
    d = frames(v)
    acc = d["accepted"][d["accepted"][col.rank] == 0]
    total, rows = queries.side_by_side(con, v, Filters(limit=1000))
    assert total == acc[col.caption_id].nunique() == len(rows)
    f = Filters(level=2, split="train", text="DOG")
    total, rows = queries.side_by_side(con, v, f)
    wide = acc.pivot_table(index=[col.caption_id, col.split, col.caption], columns=col.level,
                           values=col.paraphrase, aggfunc="first").reset_index()
    sel = wide[(wide[col.split] == "train") & wide[2].notna()]
    text = sel[[col.caption, 1, 2]].fillna("").apply(
        lambda r: any("dog" in x.lower() for x in r), axis=1)
    assert total == int(text.sum()) > 0
    assert all(r["l2"] and r["split"] == "train" for r in rows)


def test_side_by_side_gate_filter(corpus: Path, con) -> None:
    v = open_version(corpus)
    s = frames(v)["scores"]
    failed_sbert = set(s[(s[col.level] == 1) & s[col.failed_gates].map(
        lambda g: "sbert" in g)][col.caption_id])
    total, rows = queries.side_by_side(con, v, Filters(level=1, gate="sbert", limit=1000))
    assert total > 0 and {r["caption_id"] for r in rows} <= failed_sbert


def test_rejected_rows_filters_match_pandas(corpus: Path, con) -> None:
    v = open_version(corpus)
    rej = frames(v)["rejected"]
    total, rows = queries.rejected_rows(con, v, Filters(limit=10))
    assert total == len(rej) and len(rows) == 10
    total, rows = queries.rejected_rows(con, v, Filters(level=1, gate="sbert", split="train"))
    mask = (rej[col.level] == 1) & (rej[col.split] == "train") & rej[col.failed_gates].map(
        lambda g: "sbert" in g)
    assert total == int(mask.sum()) > 0
    assert all("sbert" in r["failed_gates"] and r["reason"] for r in rows)
    total, _ = queries.rejected_rows(con, v, Filters(text="x' OR 1=1 --"))
    assert total == 0  # the text is a bound value, never SQL


def test_drift_matches_pandas(corpus: Path, con) -> None:
    old, new = open_version(corpus, 1), open_version(corpus, 2)

    def status_of(v: Version) -> pd.Series:
        d = frames(v)
        pairs = d["scores"][[col.caption_id, col.level]].drop_duplicates()
        acc = d["accepted"][[col.caption_id, col.level]].drop_duplicates().assign(st="accepted")
        m = pairs.merge(acc, how="left").fillna({"st": "rejected"})
        return m.set_index([col.caption_id, col.level])["st"]

    a, b = status_of(old), status_of(new)
    changed = (a != b)
    counts, rows = queries.status_changes(con, old, new, limit=20)
    expected = pd.DataFrame({"o": a[changed], "n": b[changed]}).value_counts().to_dict()
    assert counts == expected and sum(counts.values()) > 0
    assert len(rows) == 20 and all(r["old_status"] != r["new_status"] for r in rows)
    q = queries.score_quantiles(con, new)
    s = frames(new)["scores"]
    med = s[s[col.level] == 1][col.sbert_cos].median()
    assert q[(col.sbert_cos, 1)]["q50"] == pytest.approx(med)
    assert q[(col.sbert_cos, 1)]["n"] == s[s[col.level] == 1][col.sbert_cos].notna().sum()
