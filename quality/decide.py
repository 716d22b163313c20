"""Decisions from stored scores: which gates a candidate fails, and which candidates to keep.

Nothing here computes a score, so re-gating with new thresholds is cheap and exact.

Ranking (per caption and level, among candidates that pass every gate): highest `rank_score`
(mean of SBERT cosine and BERTScore F1: meaning kept) first; ties go to the candidate that
changes more (level 1: higher structure_edit; level 2: lower content_recall), then to the lower
candidate index. Walking down that order, a candidate whose words are near-identical to a
better-ranked one (1 - token edit ratio >= selection.duplicate_max_similarity) fails the
`duplicate` gate; the first `selection.keep_per_level` distinct ones are accepted with rank
0, 1, ...; further passing ones are rejected as `surplus`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from robustclap.quality.config import GateConfig
from robustclap.quality.learned import MEANING_P, WORDING_P
from robustclap.quality.learned import decide as learned_decide
from robustclap.quality.text import edit_ratio, words

JUDGE_VERDICT = "judge_verdict"
GENERATION_FAILED = "generation_failed"
EMPTY = "empty"
DUPLICATE = "duplicate"
SURPLUS = "surplus"

Scores = Mapping[str, Any]
Check = Callable[[Scores, GateConfig, int], bool]  # True = the candidate FAILS this gate


def _over(value: Any, limit: float | None) -> bool:
    return limit is not None and value is not None and value > limit


def _under(value: Any, limit: float | None) -> bool:
    return limit is not None and value is not None and value < limit


def _flag(name: str) -> Check:
    return lambda s, c, lv: bool(s[name])


def _list(s: Scores, c: GateConfig, _: int) -> bool:
    return bool(s["list_like"]) or _over(s["n_sentences"], c.gates.degenerate.max_sentences)


def _non_english(s: Scores, c: GateConfig, _: int) -> bool:
    return _under(s["english_share"], c.gates.degenerate.english_share_min)


def _repetition(s: Scores, c: GateConfig, _: int) -> bool:
    return _over(s["repeat_frac"], c.gates.degenerate.repeat_frac_max)


def _length(s: Scores, c: GateConfig, _: int) -> bool:
    d = c.gates.degenerate
    return _under(s["length_ratio"], d.length_ratio_min) or _over(
        s["length_ratio"], d.length_ratio_max
    )


def _near_duplicate(s: Scores, c: GateConfig, _: int) -> bool:
    return _under(s["token_edit"], c.gates.degenerate.token_edit_min)


def _sbert(s: Scores, c: GateConfig, level: int) -> bool:
    return _under(s["sbert_cos"], c.level(level).sbert_min)


def _bertscore(s: Scores, c: GateConfig, level: int) -> bool:
    return _under(s["bertscore_f1"], c.level(level).bertscore_f1_min)


def _wording_l1(s: Scores, c: GateConfig, level: int) -> bool:
    return level == 1 and _under(s["content_recall"], c.gates.level1.content_recall_min)


def _added_content(s: Scores, c: GateConfig, level: int) -> bool:
    return level == 1 and _over(s["content_novelty"], c.gates.level1.content_novelty_max)


def _restructure_l1(s: Scores, c: GateConfig, level: int) -> bool:
    return level == 1 and _under(s["structure_edit"], c.gates.level1.structure_edit_min)


def _vocabulary_l2(s: Scores, c: GateConfig, level: int) -> bool:
    g = c.gates.level2
    return level == 2 and (
        _over(s["content_recall"], g.content_recall_max)
        or _under(s["content_novelty"], g.content_novelty_min)
    )


def _aligned(score: str, limit: str) -> Check:
    return lambda s, c, lv: lv in c.gates.alignment.levels and _over(
        s.get(score), getattr(c.gates.alignment, limit))


def _learned(prob: str, threshold: str) -> Check:
    """The learned model's probability is under the level's threshold (learned.py)."""
    return lambda s, c, lv: c.learned.enabled and _under(
        s.get(prob), getattr(c.learned.thresholds(lv), threshold))


def _shape(flag: str) -> Check:
    """A shape flag (definition, fragment) that the config switches on."""
    return lambda s, c, lv: bool(s.get(flag)) and getattr(c.gates.alignment, flag)


def _near_copy_l1(s: Scores, c: GateConfig, level: int) -> bool:
    return level == 1 and c.gates.level1.near_copy and bool(s.get("same_content"))


def _synonyms_l1(s: Scores, c: GateConfig, level: int) -> bool:
    return level == 1 and _over(s.get("align_synonyms"), c.gates.level1.synonyms_max)


def _weak_synonym_l2(s: Scores, c: GateConfig, level: int) -> bool:
    return level == 2 and _under(s.get("align_synonym_sim"), c.gates.level2.synonym_sim_min)


def _fact(score: str, limit: str) -> Check:
    return lambda s, c, lv: _over(s[score], getattr(c.gates.facts, limit))


# Gate name -> check, in reporting order: a rejected row's `reason` is its first failed gate.
GATES: dict[str, Check] = {
    "identical": _flag("norm_identical"),
    "meta_text": _flag("meta_text"),
    "echo": _flag("echo"),
    "list": _list,
    "extra_sentences": _aligned("extra_sentences", "extra_sentences_max"),
    "definition": _shape("definition"),
    "fragment": _shape("fragment"),
    "non_english": _non_english,
    "repetition": _repetition,
    "length_ratio": _length,
    "near_duplicate_original": _near_duplicate,
    "near_copy": _near_copy_l1,
    "meaning": _learned(MEANING_P, "meaning"),
    "wording": _learned(WORDING_P, "wording"),
    "sbert": _sbert,
    "bertscore": _bertscore,
    "event_missing": _aligned("align_missing", "missing_max"),
    "event_added": _aligned("align_added", "added_max"),
    "event_roles": _aligned("align_roles", "roles_max"),
    "synonym_level1": _synonyms_l1,
    "weak_synonym": _weak_synonym_l2,
    "content_recall": _wording_l1,
    "added_content": _added_content,
    "restructure": _restructure_l1,
    "vocabulary_change": _vocabulary_l2,
    "numbers": _fact("number_diff", "number_diff_max"),
    "negation": _fact("negation_diff", "negation_diff_max"),
    "temporal_order": _fact("order_violations", "order_violations_max"),
    "role_swap": _fact("role_swaps", "role_swaps_max"),
    "reattachment": _fact("reattachments", "reattachments_max"),
    # set only on candidates that passed every other gate, when the judge is on (judge.py)
    "judge": lambda s, c, lv: c.judge.enabled and JUDGE_VERDICT in s
    and s[JUDGE_VERDICT] != "same_scene",
}
ALL_GATES = [GENERATION_FAILED, EMPTY, *GATES, DUPLICATE]


def rank_score(scores: Scores) -> float | None:
    """How good a candidate is: P(meaning kept) x P(wording right) when the learned models
    ran (apply_learned), else meaning kept as the mean of SBERT cosine and BERTScore F1."""
    pm, pw = scores.get(MEANING_P), scores.get(WORDING_P)
    if pm is not None and pw is not None:
        return pm * pw
    a, b = scores.get("sbert_cos"), scores.get("bertscore_f1")
    return None if a is None or b is None else (a + b) / 2


def apply_learned(scores: dict[str, Any], config: GateConfig, level: int) -> None:
    """Add the learned models' probabilities and their note to a candidate's scores (when
    the config switches them on); they are cheap, so they are never cached."""
    if config.learned.enabled:
        scores.update(learned_decide(config.learned, scores, level))


def apply_judge(judge: Any, items: list[tuple[str, str, int, dict[str, Any], list[str]]],
                config: GateConfig) -> None:
    """Ask the judge about the (caption, candidate, level, scores, failed) items that passed
    every other gate; its verdict goes into the scores and the `judge` gate decides."""
    todo = [it for it in items if not it[4]]
    if not todo or not config.judge.enabled:
        return
    for (_, _, level, scores, failed), v in zip(
            todo, judge.judge([(c, t, lv) for c, t, lv, _, _ in todo]), strict=True):
        scores[JUDGE_VERDICT] = v.verdict
        scores["judge_detail"] = v.to_json()
        failed[:] = failed_gates(scores, config, level)


def failed_gates(scores: Scores, config: GateConfig, level: int) -> list[str]:
    """Names of the gates a scored candidate fails, in reporting order."""
    config.level(level)  # refuses a level other than 1 or 2
    return [name for name, check in GATES.items() if check(scores, config, level)]


@dataclass
class Candidate:
    """One candidate row being decided."""

    row: dict[str, Any]
    level: int
    index: int
    text: str | None
    scores: dict[str, Any] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    rank: int | None = None  # set when accepted
    reason: str | None = None  # set when rejected

    @property
    def passed(self) -> bool:
        return not self.failed


def _order_key(c: Candidate) -> tuple[float, float, int]:
    change = c.scores.get("structure_edit") if c.level == 1 else -(
        c.scores.get("content_recall") or 0.0
    )
    return (-(c.scores.get("rank_score") or 0.0), -(change or 0.0), c.index)


def similarity(a: str, b: str) -> float:
    """1 - token edit ratio: 1 for the same words (case and punctuation ignored)."""
    return 1.0 - edit_ratio(words(a), words(b))


def select(group: list[Candidate], config: GateConfig) -> None:
    """Rank the passing candidates of one (caption, level), drop duplicates, accept the best."""
    seen: list[str] = []
    kept = 0
    for cand in sorted((c for c in group if c.passed), key=_order_key):
        assert cand.text is not None
        if any(similarity(cand.text, s) >= config.selection.duplicate_max_similarity
               for s in seen):
            cand.failed.append(DUPLICATE)
            continue
        seen.append(cand.text)
        if kept < config.selection.keep_per_level:
            cand.rank = kept
            kept += 1
        else:
            cand.reason = SURPLUS
    for cand in group:
        if cand.failed:
            cand.reason = cand.failed[0]
