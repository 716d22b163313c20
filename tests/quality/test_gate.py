"""End to end: a CANDIDATES table built here -> gate -> accepted / rejected / scores / summary."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import (
    CANDIDATES,
    CORPUS,
    GATE_REJECTED,
    GATE_SCORES,
    REGENERATE,
    col,
    read_table,
    write_table,
)
from robustclap.contracts.stage import read_stats
from robustclap.quality.config import load_config, parse_config
from robustclap.quality.gate import run_gate

KEY = (col.caption_id, col.level, col.candidate)


def keys(table) -> list[tuple]:
    return sorted(zip(*(table.column(k).to_pylist() for k in KEY), strict=True))


def expectations(case) -> dict[tuple, tuple[str, str | None]]:
    out, seen = {}, {}
    for caption_id, level, _, expect, gate in case.ROWS:
        index = seen.get((caption_id, level), 0)
        seen[(caption_id, level)] = index + 1
        out[(caption_id, level, index)] = (expect, gate)
    return out


def test_nothing_is_lost(gated, case):
    out, result = gated
    accepted = read_table(CORPUS, out / "accepted.parquet")
    rejected = read_table(GATE_REJECTED, out / "rejected.parquet")
    scores = read_table(GATE_SCORES, out / "scores.parquet")
    all_keys = sorted(expectations(case))
    assert accepted.num_rows + rejected.num_rows == len(case.ROWS) == result.rows_in
    assert sorted(keys(accepted) + keys(rejected)) == all_keys
    assert keys(scores) == all_keys


def test_good_accepted_bad_rejected_by_the_named_gate(gated, case):
    out, _ = gated
    accepted = set(keys(read_table(CORPUS, out / "accepted.parquet")))
    rejected = read_table(GATE_REJECTED, out / "rejected.parquet").to_pylist()
    failed = {(r[col.caption_id], r[col.level], r[col.candidate]): r for r in rejected}
    for key, (expect, gate) in expectations(case).items():
        if expect == case.GOOD:
            assert key in accepted, key
        else:
            assert key in failed, key
            assert failed[key][col.reason], key
            if expect == case.BAD:
                assert gate in failed[key][col.failed_gates], (key, failed[key])


def test_every_gibberish_candidate_is_rejected_with_a_reason(gated, case):
    out, _ = gated
    rejected = read_table(GATE_REJECTED, out / "rejected.parquet").to_pylist()
    reasons = {(r[col.caption_id], r[col.level], r[col.candidate]): r[col.reason]
               for r in rejected}
    gibberish = [k for k, (expect, _) in expectations(case).items() if expect == case.GIBBERISH]
    assert len(gibberish) == 3
    for key in gibberish:
        assert reasons.get(key) not in (None, "", "surplus"), key


def test_generation_failures_keep_their_reason(gated):
    out, _ = gated
    rows = read_table(GATE_REJECTED, out / "rejected.parquet").to_pylist()
    failures = [r for r in rows if r[col.status] == "failed"]
    assert len(failures) == 2
    assert all(r[col.reason] == "generation_failed" and r[col.fail_reason] == "invalid_json"
               for r in failures)


def test_accepted_corpus_is_ranked_and_versioned(gated):
    out, result = gated
    accepted = read_table(CORPUS, out / "accepted.parquet").to_pylist()
    assert {r[col.gate_version] for r in accepted} == {result.extra["gate_version"]}
    by_group: dict[tuple, list[int]] = {}
    for r in accepted:
        by_group.setdefault((r[col.caption_id], r[col.level]), []).append(r[col.rank])
    assert all(sorted(ranks) == list(range(len(ranks))) for ranks in by_group.values())


def test_regenerate_lists_caption_levels_without_accepted_candidates(gated):
    out, result = gated
    regen = read_table(REGENERATE, out / "regenerate.parquet").to_pylist()
    assert sorted((r[col.caption_id], r[col.level]) for r in regen) == [
        ("c1", 2), ("c3", 2), ("c4", 2)]
    assert result.counts["regenerate"] == 3


def test_summary_counts_and_pass_rates(gated, case):
    out, result = gated
    summary = read_stats(out / "summary.json")
    assert summary == result and summary.stage == "gate" and summary.status == "complete"
    assert summary.rows_in == summary.rows_out + summary.rejected == len(case.ROWS)
    assert summary.counts["captions"] == len({r[0] for r in case.ROWS})
    level1 = summary.extra["levels"]["1"]
    assert level1["candidates"] == sum(1 for r in case.ROWS if r[1] == 1)
    assert 0 <= level1["pass_rate"]["temporal_order"] < 1  # two reversed orders fail it
    assert level1["pass_rate"]["generation_failed"] < 1
    q = summary.extra["quantiles"]["1"]["sbert_cos"]
    assert q["q05"] <= q["q50"] <= q["q95"]
    assert "## Pass rate per gate" in (out / "summary.md").read_text()


def test_regating_with_new_thresholds_recomputes_no_score(gated, generated, tmp_path,
                                                          monkeypatch):
    out, first = gated
    import robustclap.quality.scores_semantic as semantic
    import robustclap.quality.scores_structure as structure

    def no_model(*_args, **_kwargs):
        raise AssertionError("a model was used although every score is cached")

    monkeypatch.setattr(semantic.SbertEncoder, "_load", no_model)
    monkeypatch.setattr(semantic.BertScoreScorer, "_load", no_model)
    monkeypatch.setattr(structure, "parse", no_model)
    strict_text = (Path(__file__).resolve().parents[2] / "quality" / "gates-rules.yaml").read_text()
    strict = parse_config(strict_text.replace("sbert_min: 0.80", "sbert_min: 0.999"))
    again = run_gate(generated, tmp_path / "regated", strict, cache_path=out / "score_cache.sqlite")
    assert again.counts["scores_computed"] == 0
    assert again.extra["gate_version"] != first.extra["gate_version"]
    accepted = read_table(CORPUS, tmp_path / "regated" / "accepted.parquet").to_pylist()
    assert all(r[col.level] == 2 for r in accepted)  # no level-1 candidate is that close
    first_scores = read_table(GATE_SCORES, out / "scores.parquet").to_pandas()
    new_scores = read_table(GATE_SCORES, tmp_path / "regated" / "scores.parquet").to_pandas()
    assert first_scores[col.sbert_cos].equals(new_scores[col.sbert_cos])


def test_small_batches_and_regeneration_rounds_in_other_shards(gated, tmp_path, case, config):
    """Round-1 candidates in a second shard are decided with their caption's round-0 ones,
    even when every streamed batch holds only a few rows."""
    out, _ = gated
    folder = tmp_path / "generated"
    rows = case.candidate_rows()
    write_table(CANDIDATES, rows, folder / "candidates" / "part-00000.parquet")
    extra = dict(next(r for r in rows if (r[col.caption_id], r[col.level]) == ("c3", 2)))
    extra.update({col.candidate: 100, col.paraphrase: "Without ceasing, two songbirds chirp.",
                  col.status: "ok", col.fail_reason: None})
    write_table(CANDIDATES, [extra], folder / "candidates" / "part-00001.parquet")
    result = run_gate(folder, tmp_path / "c", config, batch_rows=2,
                      cache_path=out / "score_cache.sqlite")
    accepted = read_table(CORPUS, tmp_path / "c" / "accepted.parquet").to_pylist()
    assert ("c3", 2, 100) in {(r[col.caption_id], r[col.level], r[col.candidate])
                              for r in accepted}
    regen = read_table(REGENERATE, tmp_path / "c" / "regenerate.parquet").to_pylist()
    assert [(r[col.caption_id], r[col.level]) for r in regen] == [("c1", 2), ("c4", 2)]
    assert result.rows_out + result.rejected == result.rows_in == len(rows) + 1
    first = read_table(CORPUS, out / "accepted.parquet").to_pylist()
    assert {(r[col.caption_id], r[col.candidate], r[col.level]) for r in first} <= {
        (r[col.caption_id], r[col.candidate], r[col.level]) for r in accepted}
    assert pq.ParquetFile(tmp_path / "c" / "scores.parquet").metadata.num_rows == len(rows) + 1


def test_duplicate_candidate_rows_are_refused(tmp_path, case):
    rows = case.candidate_rows()
    write_table(CANDIDATES, rows, tmp_path / "g" / "candidates" / "part-00000.parquet")
    write_table(CANDIDATES, rows[:1], tmp_path / "g" / "candidates" / "part-00001.parquet")
    with pytest.raises(RobustclapError, match="duplicate"):
        run_gate(tmp_path / "g", tmp_path / "out", load_config())


def test_missing_or_foreign_input_is_a_user_error(tmp_path):
    with pytest.raises(RobustclapError, match="no candidate shards"):
        run_gate(tmp_path, tmp_path / "out", load_config())
    write_table(CORPUS, [], tmp_path / "candidates" / "part-00000.parquet")
    with pytest.raises(RobustclapError, match="expected a 'candidates' table"):
        run_gate(tmp_path, tmp_path / "out", load_config())


def test_rows_in_memory_stay_bounded(generated, gated, tmp_path, monkeypatch, case):
    """Streaming: each decision step and each scoring batch sees at most `batch_rows` rows
    plus the rest of one caption, however many candidates there are."""
    import robustclap.quality.gate as gate_module

    out, _ = gated
    seen_rows, seen_pairs = [], []
    real_decide, real_ensure = gate_module._decide, gate_module.Scoring.ensure

    def spy_decide(captions, scoring, config, judge=None):
        seen_rows.append(sum(len(rows) for rows in captions))
        return real_decide(captions, scoring, config, judge)

    def spy_ensure(self, pairs):
        seen_pairs.append(len(pairs))
        return real_ensure(self, pairs)

    monkeypatch.setattr(gate_module, "_decide", spy_decide)
    monkeypatch.setattr(gate_module.Scoring, "ensure", spy_ensure)
    run_gate(generated, tmp_path / "c", load_config(), batch_rows=4,
             cache_path=out / "score_cache.sqlite")
    largest_caption = max(sum(1 for r in case.ROWS if r[0] == c) for c in case.CAPTIONS)
    assert len(seen_rows) > 1
    assert sum(seen_rows) == len(case.ROWS)
    assert max(seen_rows) <= 4 + largest_caption
    assert max(seen_pairs) <= 4 + largest_caption


def test_an_empty_candidates_table_gives_empty_outputs(tmp_path):
    write_table(CANDIDATES, [], tmp_path / "g" / "candidates" / "part-00000.parquet")
    result = run_gate(tmp_path / "g", tmp_path / "out", load_config())
    assert (result.rows_in, result.rows_out, result.rejected, result.counts["regenerate"]) == (
        0, 0, 0, 0)
    assert read_table(CORPUS, tmp_path / "out" / "accepted.parquet").num_rows == 0
    assert read_stats(tmp_path / "out" / "summary.json").rows_in == 0
    assert not (tmp_path / "out" / ".duckdb_tmp").exists()


def test_sorting_in_key_ranges_changes_no_output(generated, gated, tmp_path, monkeypatch):
    """Sorting a few rows at a time (many DuckDB queries, one key range each) writes the same
    rows in the same order, and pass 1 scores the same batches, as one sort of everything."""
    import robustclap.quality.gate as gate_module

    out, _ = gated
    batches = []
    real_ensure = gate_module.Scoring.ensure

    def spy_ensure(self, pairs):
        batches.append(list(pairs))
        return real_ensure(self, pairs)

    monkeypatch.setattr(gate_module.Scoring, "ensure", spy_ensure)
    runs = {}
    for sort_rows in (1_000_000, 3):
        batches.clear()
        folder = tmp_path / f"sort{sort_rows}"
        run_gate(generated, folder, load_config(), batch_rows=4, sort_rows=sort_rows,
                 cache_path=out / "score_cache.sqlite")
        tables = {spec.name: read_table(spec, folder / f"{name}.parquet").to_pylist()
                  for spec, name in ((CORPUS, "accepted"), (GATE_REJECTED, "rejected"),
                                     (GATE_SCORES, "scores"), (REGENERATE, "regenerate"))}
        summary = {**json.loads((folder / "summary.json").read_text()), "wall_s": None}
        runs[sort_rows] = (tables, summary,
                           [list(b) for b in batches])
    assert runs[3] == runs[1_000_000]


def test_duplicates_are_found_whichever_range_holds_them(tmp_path, case):
    rows = case.candidate_rows()
    write_table(CANDIDATES, rows, tmp_path / "g" / "candidates" / "part-00000.parquet")
    write_table(CANDIDATES, rows[-1:], tmp_path / "g" / "candidates" / "part-00001.parquet")
    with pytest.raises(RobustclapError, match="1 duplicate"):
        run_gate(tmp_path / "g", tmp_path / "out", load_config(), sort_rows=2)


def test_progress_hook_sees_every_pair_and_row(generated, gated, tmp_path):
    """One bar for the scoring pass (distinct pairs), one for the decisions (candidate rows)."""
    from contextlib import contextmanager

    out, first = gated
    bars: dict[str, tuple[int, str, list[int]]] = {}

    @contextmanager
    def progress(label, total, unit):
        done: list[int] = []
        bars[label] = (total, unit, done)
        yield done.append

    run_gate(generated, tmp_path / "c", load_config(), cache_path=out / "score_cache.sqlite",
             batch_rows=3, progress=progress)
    total, unit, done = bars["gate: decide"]
    assert unit == "rows" and total == sum(done) == first.rows_in and len(done) > 1
    total, unit, done = bars["gate: score"]
    distinct = pq.read_table(generated / "candidates").to_pandas().query("status == 'ok'")
    assert unit == "pairs" and total == sum(done) == len(
        distinct.dropna(subset=["paraphrase"]).drop_duplicates(["caption", "paraphrase"]))


# rules by nature that stay rules in the shipped learned config (quality/gates.yaml)
HARD_RULES = {"identical", "meta_text", "echo", "list", "non_english", "numbers", "negation",
              "temporal_order", "role_swap", "empty", "generation_failed", "repetition"}


def test_shipped_learned_gate_on_the_hand_written_cases(generated, gated, tmp_path, case,
                                                        shipped_config):
    """The default gate (learned meaning and wording over the rules): every bad row is
    rejected, by its named gate when that gate is a rule here, with a readable note when the
    learned models decided; the good level-1 rows are kept."""
    out = tmp_path / "shipped"
    result = run_gate(generated, out, shipped_config, cache_path=gated[0] / "score_cache.sqlite")
    assert result.extra["gate_version"] == shipped_config.version
    accepted = set(keys(read_table(CORPUS, out / "accepted.parquet")))
    rejected = {(r[col.caption_id], r[col.level], r[col.candidate]): r for r in
                read_table(GATE_REJECTED, out / "rejected.parquet").to_pylist()}
    scores = {(r[col.caption_id], r[col.level], r[col.candidate]): r for r in
              read_table(GATE_SCORES, out / "scores.parquet").to_pylist()}
    for key, (expect, gate) in expectations(case).items():
        if expect == case.GOOD and key[1] == 1:
            assert key in accepted, (key, scores[key][col.decision_note])
        elif expect != case.GOOD:
            assert key in rejected, key
            if gate in HARD_RULES:
                assert gate in rejected[key][col.failed_gates], (key, rejected[key])
        s = scores[key]
        if s[col.meaning_p] is not None:
            assert 0 <= s[col.meaning_p] <= 1 and 0 <= s[col.wording_p] <= 1
            learned_failed = {"meaning", "wording"} & set(s[col.failed_gates])
            # the note names what pulled a learned decision down, in words
            assert bool(s[col.decision_note]) == bool(learned_failed), (key, s)
