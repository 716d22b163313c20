"""Calibration on hand-labelled LLM candidates: what the whole gate keeps, and at what precision.

Input: JSONL, one candidate a line, with `caption`, `level` (1 or 2), `candidate`, `meaning_ok`
and `level_ok` (labelling rule: ../shared/data/labelled_candidates/LABELLING.md). Every row is
scored and run through every gate at the configured thresholds (the per-caption selection,
duplicate and surplus, is left out: it ranks candidates, it does not judge them). Per level:

- accepted, and the precision of meaning_ok among them;
- recall of good (meaning_ok and level_ok) candidates;
- wrong-meaning candidates accepted / all wrong-meaning candidates;
- which gate rejected each wrong-meaning candidate first, and how many each gate rejects;
- every false accept (wrong meaning, accepted) with its scores and alignment.

Fitting the learned gate on these rows, and its out-of-sample figures, are learned_fit.py.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robustclap.contracts.errors import RobustclapError
from robustclap.quality.calibrate import read_text, skipped_note
from robustclap.quality.config import GateConfig
from robustclap.quality.decide import apply_judge, apply_learned, failed_gates, rank_score
from robustclap.quality.scoring import Scoring

FIELDS = ("caption", "level", "candidate", "meaning_ok", "level_ok")
LEVEL1_RECALL_GOAL = 0.5  # issue 13: level 1 keeps at least half of the good candidates
SCORE_KEYS = ("sbert_cos", "bertscore_f1", "content_recall", "content_novelty",
              "structure_edit", "align_missing", "align_added", "align_synonyms",
              "align_synonym_sim", "align_roles", "align_specific", "number_diff",
              "negation_diff", "order_violations", "role_swaps", "alignment", "meaning_p",
              "wording_p", "decision_note")


@dataclass
class Labelled:
    line: int
    caption: str
    level: int
    candidate: str
    meaning_ok: bool
    level_ok: bool
    source: str = ""  # the labelled file (one generator's candidates)
    synthetic: bool = False  # a mismatched pair made by `mismatched`, not a labelled row

    @property
    def good(self) -> bool:
        return self.meaning_ok and self.level_ok


def _row(line: int, data: Any, source: str = "") -> Labelled:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    missing = [f for f in FIELDS if f not in data]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    level = data["level"]
    if isinstance(level, bool) or level not in (1, 2):
        raise ValueError(f"level {level!r} is not 1 or 2")
    for name in ("caption", "candidate"):
        if not isinstance(data[name], str) or not data[name].strip():
            raise ValueError(f"{name} is not a non-empty string")
    for name in ("meaning_ok", "level_ok"):
        if not isinstance(data[name], bool):
            raise ValueError(f"{name} is not true or false")
    return Labelled(line, data["caption"], level, data["candidate"], data["meaning_ok"],
                    data["level_ok"], source)


def load_labelled(path: str | Path) -> tuple[list[Labelled], list[dict[str, Any]]]:
    """Valid rows, and one {line, reason} per malformed row (counted, never silently lost)."""
    path = Path(path)
    text = read_text(path)
    rows, bad = [], []
    # JSON Lines ends records at "\n" only: U+2028 inside a string is part of the record
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append(_row(n, json.loads(line), path.stem))
        except json.JSONDecodeError as exc:
            bad.append({"line": n, "reason": f"invalid JSON ({exc.msg})"})
        except ValueError as exc:
            bad.append({"line": n, "reason": str(exc)})
    if not rows:
        raise RobustclapError(f"{path}: no labelled candidates (fields: {', '.join(FIELDS)})")
    return rows, bad


def mismatched(rows: Sequence[Labelled], seed: int = 0) -> list[Labelled]:
    """One sure negative per (labelled set, caption, level): the caption with a candidate
    written for another caption of the same set and level (seeded choice). They teach the
    meaning model what a different scene looks like even from a set whose own wrong rows are
    all subtle; they are never counted in a report or used for wording or thresholds."""
    rng = np.random.default_rng(seed)
    out: list[Labelled] = []
    keys = sorted({(r.source, r.level, r.caption) for r in rows if not r.synthetic})
    for source, level, caption in keys:
        pool = [r for r in rows if r.source == source and r.level == level
                and r.caption != caption and not r.synthetic]
        if pool:
            other = pool[int(rng.integers(len(pool)))]
            out.append(Labelled(0, caption, level, other.candidate, False, False, source, True))
    return out


def score_rows(rows: Sequence[Labelled], scoring: Scoring,
               advance: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Every score of every row (through the cache); `advance(n)` after each chunk."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(rows), 512):
        chunk = rows[start:start + 512]
        for s in scoring.score([(r.caption, r.candidate) for r in chunk]):
            s = dict(s)
            s["rank_score"] = rank_score(s)
            out.append(s)
        if advance:
            advance(len(chunk))
    return out


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _short(scores: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in scores.items()
            if k in SCORE_KEYS}


def level_report(rows: list[Labelled], scores: list[dict[str, Any]],
                 failed: list[list[str]], config: GateConfig, level: int) -> dict[str, Any]:
    """The numbers of one level (module docstring)."""
    idx = [i for i, r in enumerate(rows) if r.level == level]
    acc = [i for i in idx if not failed[i]]
    wrong = [i for i in idx if not rows[i].meaning_ok]
    good = [i for i in idx if rows[i].good]
    precision = _ratio(sum(rows[i].meaning_ok for i in acc), len(acc))
    recall = _ratio(sum(rows[i].good for i in acc), len(good))
    wrong_acc = [i for i in wrong if not failed[i]]
    wrong_rate = _ratio(len(wrong_acc), len(wrong))
    target, max_wrong = config.calibration.target_precision, config.calibration.max_wrong_accepted
    # None = cannot be judged here (nothing accepted, or no good candidate to recall)
    goals: dict[str, bool | None] = {
        "precision": None if precision is None else precision >= target,
        "wrong_accepted": wrong_rate is None or wrong_rate <= max_wrong,
    }
    if level == 1:
        goals["recall_good"] = None if recall is None else recall >= LEVEL1_RECALL_GOAL
    return {
        "candidates": len(idx),
        "meaning_ok": sum(rows[i].meaning_ok for i in idx),
        "good": len(good),
        "accepted": len(acc),
        "accepted_meaning_ok": sum(rows[i].meaning_ok for i in acc),
        "accepted_good": sum(rows[i].good for i in acc),
        "precision": precision,
        "recall_good": recall,
        "wrong_accepted": len(wrong_acc),
        "wrong_total": len(wrong),
        "wrong_accepted_rate": wrong_rate,
        "goals": goals,
        "caught_first_by": dict(Counter(failed[i][0] for i in wrong if failed[i]).most_common()),
        "rejects_wrong": dict(Counter(g for i in wrong for g in failed[i]).most_common()),
        "rejects_good": dict(Counter(g for i in good for g in failed[i]).most_common()),
        "false_accepts": [
            {"line": rows[i].line, "caption": rows[i].caption, "candidate": rows[i].candidate,
             "scores": _short(scores[i])} for i in wrong_acc
        ],
        "rejected_wrong": [
            {"line": rows[i].line, "gate": failed[i][0], "all": failed[i]}
            for i in wrong if failed[i]
        ],
    }


def _judge(judge: Any, rows: list[Labelled], scores: list[dict[str, Any]],
           failed: list[list[str]], config: GateConfig) -> dict[str, Any]:
    """Run the judge gate on the rows that pass every other gate; its cost, apart."""
    before, start = judge.calls, time.perf_counter()
    n = sum(not f for f in failed)
    apply_judge(judge, [(r.caption, r.candidate, r.level, s, f)
                        for r, s, f in zip(rows, scores, failed, strict=True)], config)
    wall = time.perf_counter() - start
    return {"judged": n, "engine_calls": judge.calls - before, "wall_s": round(wall, 2),
            "s_per_judged_candidate": round(wall / n, 3) if n else None,
            "unreadable": sum(1 for s in scores if "judge_verdict" in s
                              and s["judge_verdict"] is None)}


def evaluate(rows: list[Labelled], scores: list[dict[str, Any]], config: GateConfig,
             source: str, skipped: list[dict[str, Any]], judge: Any = None) -> dict[str, Any]:
    scores = [dict(s) for s in scores]
    for r, s in zip(rows, scores, strict=True):
        apply_learned(s, config, r.level)
        s["rank_score"] = rank_score(s)
    failed = [failed_gates(s, config, r.level) for r, s in zip(rows, scores, strict=True)]
    judge_cost = None
    if judge is not None and config.judge.enabled:
        judge_cost = _judge(judge, rows, scores, failed, config)
    levels = sorted({r.level for r in rows})
    return {
        "judge": judge_cost,
        "pairs": source,
        "gate_version": config.version,
        "target_precision": config.calibration.target_precision,
        "max_wrong_accepted": config.calibration.max_wrong_accepted,
        "rows": len(rows),
        "skipped": skipped,
        "levels": {str(lv): level_report(rows, scores, failed, config, lv) for lv in levels},
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown (the CLI prints it)."""
    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:.3f}"

    lines = [f"## Labelled candidates {report['pairs']} ({report['rows']} rows; gate "
             f"{report['gate_version']}; target precision {report['target_precision']}, "
             f"wrong accepted <= {report['max_wrong_accepted']:.0%})", ""]
    if report.get("judge"):
        lines += [f"LLM judge: {json.dumps(report['judge'])}", ""]
    lines += skipped_note(report["skipped"])
    lines += ["| level | candidates | meaning ok | good | accepted | precision | recall of good "
              "| wrong accepted | goals |", "|---|---|---|---|---|---|---|---|---|"]
    for lv, r in report["levels"].items():
        goals = ", ".join(f"{k} {'n/a' if v is None else 'met' if v else 'MISSED'}"
                          for k, v in r["goals"].items())
        lines.append(f"| {lv} | {r['candidates']} | {r['meaning_ok']} | {r['good']} | "
                     f"{r['accepted']} | {f(r['precision'])} | {r['accepted_good']}/{r['good']}"
                     f" ({f(r['recall_good'])}) | {r['wrong_accepted']}/{r['wrong_total']} | "
                     f"{goals} |")
    for lv, r in report["levels"].items():
        lines += ["", f"### Level {lv}: first gate that rejected each wrong-meaning candidate", ""]
        lines += [f"- {g}: {n}" for g, n in r["caught_first_by"].items()]
        lines += ["", "Good candidates lost, by gate: " + (", ".join(
            f"{g} {n}" for g, n in r["rejects_good"].items()) or "none")]
        lines += ["", f"### Level {lv}: false accepts ({len(r['false_accepts'])})", ""]
        for fa in r["false_accepts"]:
            lines.append(f"- line {fa['line']}: {fa['caption']!r} → {fa['candidate']!r} "
                         f"{json.dumps(fa['scores'])}")
    return "\n".join(lines) + "\n"
