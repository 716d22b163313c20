"""Gate decisions and selection from stored scores (no model involved)."""

from __future__ import annotations

import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.quality.decide import (
    DUPLICATE,
    SURPLUS,
    Candidate,
    failed_gates,
    rank_score,
    select,
)


def passing(level: int) -> dict:
    """Scores of a candidate that passes every default gate at `level`."""
    return {
        "sbert_cos": 0.95, "bertscore_f1": 0.92, "content_recall": 1.0 if level == 1 else 0.1,
        "content_novelty": 0.0 if level == 1 else 0.9, "token_edit": 0.6, "structure_edit": 0.5,
        "number_diff": 0, "negation_diff": 0, "order_violations": 0, "role_swaps": 0,
        "reattachments": 0, "norm_identical": False, "length_ratio": 1.0, "repeat_frac": 0.0,
        "english_share": 1.0, "n_sentences": 1, "list_like": False, "meta_text": False,
        "echo": False,
    }


@pytest.mark.parametrize("level", [1, 2])
def test_passing_scores_pass(config, level):
    assert failed_gates(passing(level), config, level) == []


@pytest.mark.parametrize(
    ("level", "change", "gate"),
    [
        (1, {"norm_identical": True}, "identical"),
        (1, {"meta_text": True}, "meta_text"),
        (2, {"echo": True}, "echo"),
        (1, {"list_like": True}, "list"),
        (1, {"n_sentences": 3}, "list"),
        (2, {"english_share": 0.3}, "non_english"),
        (1, {"repeat_frac": 0.5}, "repetition"),
        (1, {"length_ratio": 3.0}, "length_ratio"),
        (2, {"length_ratio": 0.3}, "length_ratio"),
        (1, {"token_edit": 0.05}, "near_duplicate_original"),
        (1, {"sbert_cos": 0.6}, "sbert"),
        (2, {"bertscore_f1": 0.2}, "bertscore"),
        (1, {"content_recall": 0.5}, "content_recall"),
        (1, {"structure_edit": 0.0}, "restructure"),
        (2, {"content_recall": 0.9}, "vocabulary_change"),
        (2, {"content_novelty": 0.1}, "vocabulary_change"),
        (1, {"number_diff": 1}, "numbers"),
        (2, {"negation_diff": 1}, "negation"),
        (1, {"order_violations": 1}, "temporal_order"),
        (2, {"role_swaps": 1}, "role_swap"),
    ],
)
def test_each_gate_fails_on_its_score(config, level, change, gate):
    assert failed_gates({**passing(level), **change}, config, level) == [gate]


def test_level_thresholds_differ(config):
    """A synonym-heavy candidate's meaning scores pass level 2 but not level 1."""
    scores = {**passing(2), "sbert_cos": 0.6, "bertscore_f1": 0.55}
    assert failed_gates(scores, config, 2) == []
    assert {"sbert", "bertscore"} <= set(failed_gates({**scores, "content_recall": 1.0,
                                                       "content_novelty": 0.0}, config, 1))


def test_a_disabled_gate_never_fails(config):
    off = config.model_copy(update={"gates": config.gates.model_copy(
        update={"facts": config.gates.facts.model_copy(update={"role_swaps_max": None})})})
    assert failed_gates({**passing(1), "role_swaps": 3}, off, 1) == []


def test_unknown_level_is_refused(config):
    with pytest.raises(RobustclapError):
        failed_gates(passing(1), config, 3)


def _cand(index: int, text: str, meaning: float, level: int = 1) -> Candidate:
    scores = {**passing(level), "sbert_cos": meaning, "bertscore_f1": meaning}
    scores["rank_score"] = rank_score(scores)
    return Candidate(row={}, level=level, index=index, text=text, scores=scores)


def test_selection_ranks_by_meaning_and_keeps_the_quota(config):
    group = [
        _cand(0, "While a car passes, a dog barks.", 0.90),
        _cand(1, "A dog is heard barking as a car goes by.", 0.97),
        _cand(2, "As a car drives past, barking comes from a dog.", 0.93),
    ]
    select(group, config)
    assert [c.rank for c in group] == [None, 0, 1]  # keep_per_level = 2
    assert group[0].reason == SURPLUS
    assert group[0].passed  # surplus candidates pass every gate, they are just not needed


def test_selection_drops_near_duplicates_of_better_candidates(config):
    group = [
        _cand(0, "While a car passes, a dog barks.", 0.95),
        _cand(1, "While a car passes, the dog barks!", 0.90),  # same words but one
        _cand(2, "A dog is heard barking as a car goes by.", 0.85),
    ]
    select(group, config)
    assert group[0].rank == 0
    assert group[1].failed == [DUPLICATE]
    assert group[1].reason == DUPLICATE
    assert group[2].rank == 1


def test_failing_candidates_are_never_selected(config):
    bad = _cand(0, "A dog barks loudly.", 0.99)
    bad.failed = ["restructure"]
    good = _cand(1, "While a car passes, a dog barks.", 0.90)
    select([bad, good], config)
    assert bad.rank is None and bad.reason == "restructure"
    assert good.rank == 0
