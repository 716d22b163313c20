"""Calibration: how well each score, and the gate, separate labelled paraphrase pairs.

Pair sets (see load_pairs for each format's reading and labels):
- STS-B: positive when the human similarity score is >= calibration.stsb_positive_min (4 of 5:
  "mostly equivalent" or better); only the `main-captions` genre by default.
- MRPC and PAWS: their human paraphrase labels.
- Clotho: two captions of the same clip are a positive, captions of two different clips a
  negative; `calibration.sample_pairs` pairs (half each) drawn with `calibration.seed`.

Pairs are treated as level-1 paraphrase detection: sentence1 plays the original, sentence2 the
candidate; the gate applied is level 1's meaning thresholds plus the fact gates (numbers,
negation, temporal order, role swaps). Wording and degenerate gates are left out: positives in
these sets are not asked to restructure their sentence.

The combined score is monotone: the meaning score (mean of SBERT cosine and BERTScore F1)
minus fixed penalties for structure violations and for vocabulary not shared, weights in the
config's `combined` section (chosen on one half of MRPC train and PAWS dev, checked on the
other half; see quality/README.md):
  combined = meaning - role_swap * role_swaps - reattachment * reattachments
             - order_violation * order_violations
             - number_mismatch * min(number_diff, number_cap)
             - negation_mismatch * [negation_diff > 0]
             - vocabulary * (1 - min(content_recall, 1 - content_novelty))
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robustclap.contracts.errors import RobustclapError
from robustclap.quality.config import GateConfig
from robustclap.quality.decide import GATES, rank_score
from robustclap.quality.metrics import best_f1_threshold, precision_recall, roc_auc
from robustclap.quality.scoring import Pair, Scoring

FORMATS = ("stsb", "mrpc", "paws", "clotho")
# Gates applied to calibration pairs (level-1 meaning + facts), see module docstring.
CALIBRATION_GATES = ("sbert", "bertscore", "numbers", "negation", "temporal_order", "role_swap",
                     "reattachment")
# Scores whose AUC is reported; violation counts are negated (fewer = more paraphrase-like).
HIGHER_IS_PARAPHRASE = ("sbert_cos", "bertscore_f1", "meaning", "combined", "content_recall")
LOWER_IS_PARAPHRASE = ("role_swaps", "reattachments", "order_violations", "number_diff",
                       "negation_diff")


@dataclass
class PairSet:
    name: str
    pairs: list[Pair]
    labels: list[int]
    # one {line, reason} per malformed row: counted and reported, never silently lost
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: int, a: str, b: str, label: int) -> None:
        if not a.strip() or not b.strip():
            self.skipped.append({"line": line, "reason": "empty sentence"})
        else:
            self.pairs.append((a, b))
            self.labels.append(label)


def read_text(path: Path) -> str:
    """A pair file's text (a UTF-8 BOM dropped); unreadable or non-UTF-8 bytes are one clear
    message, not a traceback."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RobustclapError(f"cannot read pair file {path}: {exc}") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RobustclapError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason})") \
            from exc


def skipped_note(skipped: list[dict[str, Any]], show: int = 10) -> list[str]:
    """The markdown lines that report malformed rows (none when there were none)."""
    if not skipped:
        return []
    more = f"; ... {len(skipped) - show} more" if len(skipped) > show else ""
    return [f"Skipped {len(skipped)} malformed row(s): " + "; ".join(
        f"line {s['line']}: {s['reason']}" for s in skipped[:show]) + more, ""]


def _records(reader: Any, skipped: list[dict[str, Any]]) -> Iterator[tuple[int, Any]]:
    """(line, row) of a csv reader; a row the csv module refuses (e.g. a field over its size
    limit) is counted as malformed and reading goes on."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            skipped.append({"line": reader.line_num, "reason": str(exc)})
            continue
        if row:
            yield reader.line_num, row


def _tsv(path: Path, skipped: list[dict[str, Any]]) -> Iterator[tuple[int, list[str]]]:
    text = io.StringIO(read_text(path), newline="")
    return _records(csv.reader(text, delimiter="\t", quoting=csv.QUOTE_NONE), skipped)


def _columns(line: int, row: list[str], need: int) -> dict[str, Any] | None:
    if len(row) < need:
        return {"line": line, "reason": f"{len(row)} tab-separated column(s), expected {need}"}
    return None


def _label(line: int, value: str) -> tuple[int | None, dict[str, Any] | None]:
    value = value.strip()
    if value in ("0", "1"):
        return int(value), None
    return None, {"line": line, "reason": f"label {value!r} is not 0 or 1"}


def _stsb(path: Path, config: GateConfig, genre: str | None) -> PairSet:
    """Tab-separated, no header: genre, file, year, id, score, sentence1, sentence2[, ...]."""
    ps = PairSet(f"stsb:{path.name}:{genre or 'all'}", [], [])
    for line, row in _tsv(path, ps.skipped):
        if bad := _columns(line, row, 7):
            ps.skipped.append(bad)
            continue
        if genre and row[0] != genre:
            continue  # another genre: left out on purpose, not malformed
        try:
            score = float(row[4])
        except ValueError:
            score = math.nan
        if not 0 <= score <= 5:
            ps.skipped.append({"line": line, "reason": f"score {row[4]!r} is not in 0..5"})
            continue
        ps.add(line, row[5], row[6], int(score >= config.calibration.stsb_positive_min))
    return ps


def _mrpc(path: Path) -> PairSet:
    """TSV with a header (and a UTF-8 BOM): Quality, #1 ID, #2 ID, #1 String, #2 String."""
    ps = PairSet(f"mrpc:{path.name}", [], [])
    for line, row in _tsv(path, ps.skipped):
        if line == 1 and row[0].strip() == "Quality":
            continue
        if bad := _columns(line, row, 5):
            ps.skipped.append(bad)
            continue
        label, bad = _label(line, row[0])
        if label is None:
            ps.skipped.append(bad)
            continue
        ps.add(line, row[3], row[4], label)
    return ps


def _paws(path: Path) -> PairSet:
    """TSV (CRLF), no header in the labelled-final release: id, sentence1, sentence2, label."""
    ps = PairSet(f"paws:{path.name}", [], [])
    for line, row in _tsv(path, ps.skipped):
        if line == 1 and row[-1].strip() == "label":
            continue  # the header of other PAWS releases
        if bad := _columns(line, row, 4):
            ps.skipped.append(bad)
            continue
        label, bad = _label(line, row[3])
        if label is None:
            ps.skipped.append(bad)
            continue
        ps.add(line, row[1], row[2], label)
    return ps


def _clotho(path: Path, config: GateConfig) -> PairSet:
    """CSV file_name, caption_1..caption_5; sampled same-clip / different-clip pairs."""
    ps = PairSet(f"clotho:{path.name}", [], [])
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    clips = []
    for line, row in _records(reader, ps.skipped):
        caps = [c for k, c in row.items() if k and k.startswith("caption") and c and c.strip()]
        if len(caps) < 2:
            ps.skipped.append({"line": line, "reason": "fewer than two captions"})
        else:
            clips.append(caps)
    if len(clips) < 2:
        raise RobustclapError(f"{path}: needs at least two clips with two captions")
    rng = random.Random(config.calibration.seed)
    for i in range(config.calibration.sample_pairs):
        if i % 2 == 0:
            a, b = rng.sample(rng.choice(clips), 2)
            ps.labels.append(1)
        else:
            x, y = rng.sample(clips, 2)
            a, b = rng.choice(x), rng.choice(y)
            ps.labels.append(0)
        ps.pairs.append((a, b))
    return ps


def check_both_classes(pairset: PairSet) -> None:
    """AUC and best-F1 thresholds mean nothing on one class: refuse rather than suggest."""
    positive = sum(pairset.labels)
    if positive in (0, len(pairset.labels)):
        kind = "paraphrases (label 1)" if positive else "non-paraphrases (label 0)"
        raise RobustclapError(
            f"{pairset.name}: all {len(pairset.labels)} labelled pairs are {kind}; calibration "
            "needs both paraphrases and non-paraphrases to measure separation and suggest "
            "thresholds")


def load_pairs(path: str | Path, fmt: str, config: GateConfig, genre: str | None = "main-captions",
               limit: int | None = None) -> PairSet:
    """Read a labelled pair set; `limit` keeps a random subset (seeded by the config)."""
    path = Path(path)
    if fmt not in FORMATS:
        raise RobustclapError(f"unknown pair format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise RobustclapError(f"pair file not found: {path}")
    loaders: dict[str, Callable[[], PairSet]] = {
        "stsb": lambda: _stsb(path, config, genre),
        "mrpc": lambda: _mrpc(path),
        "paws": lambda: _paws(path),
        "clotho": lambda: _clotho(path, config),
    }
    pairset = loaders[fmt]()
    if not pairset.pairs:
        raise RobustclapError(f"{path}: no labelled pairs found for format {fmt!r} "
                              f"({len(pairset.skipped)} malformed row(s))")
    if limit is not None and limit < len(pairset.pairs):
        keep = sorted(random.Random(config.calibration.seed).sample(range(len(pairset.pairs)),
                                                                    limit))
        pairset = PairSet(pairset.name, [pairset.pairs[i] for i in keep],
                          [pairset.labels[i] for i in keep], pairset.skipped)
    check_both_classes(pairset)
    return pairset


def combined_score(scores: Mapping[str, Any], config: GateConfig) -> float:
    """Meaning minus structure penalties (module docstring): never increases with a violation
    count or a lost word, never decreases with SBERT or BERTScore."""
    w = config.combined
    meaning = rank_score(scores) or 0.0
    kept = min(scores["content_recall"], 1.0 - scores["content_novelty"])
    return (
        meaning
        - w.role_swap * scores["role_swaps"]
        - w.reattachment * scores["reattachments"]
        - w.order_violation * scores["order_violations"]
        - w.number_mismatch * min(scores["number_diff"], w.number_cap)
        - w.negation_mismatch * (scores["negation_diff"] > 0)
        - w.vocabulary * (1.0 - kept)
    )


def gate_passes(scores: Mapping[str, Any], config: GateConfig) -> bool:
    """The level-1 meaning and fact gates at the configured thresholds."""
    return not any(GATES[name](scores, config, 1) for name in CALIBRATION_GATES)


def score_pairs(pairset: PairSet, scoring: Scoring, chunk: int = 256,
                advance: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Scores of every pair, computed in chunks so memory stays bounded; `advance(n)` after
    each chunk (a progress bar)."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(pairset.pairs), chunk):
        out.extend(dict(s) for s in scoring.score(pairset.pairs[start:start + chunk]))
        if advance:
            advance(len(out) - start)
    return out


def evaluate(pairset: PairSet, scores: list[dict[str, Any]], config: GateConfig
             ) -> dict[str, Any]:
    """AUC of each score and of the combined score, the gate's precision/recall, and the
    thresholds that maximise F1."""
    check_both_classes(pairset)
    y = pairset.labels
    for s in scores:
        s["meaning"] = rank_score(s)
        s["combined"] = combined_score(s, config)
    auc: dict[str, float | None] = {}
    for name in HIGHER_IS_PARAPHRASE:
        auc[name] = roc_auc([s[name] for s in scores], y)
    for name in LOWER_IS_PARAPHRASE:
        auc[name] = roc_auc([-s[name] for s in scores], y)
    level1 = config.gates.level1
    at_config = {
        "gate": precision_recall([gate_passes(s, config) for s in scores], y),
        "sbert_cos": precision_recall([s["sbert_cos"] >= (level1.sbert_min or 0) for s in scores],
                                      y),
        "bertscore_f1": precision_recall(
            [s["bertscore_f1"] >= (level1.bertscore_f1_min or 0) for s in scores], y
        ),
    }
    suggested = {name: best_f1_threshold([s[name] for s in scores], y)
                 for name in ("sbert_cos", "bertscore_f1", "meaning", "combined")}
    return {
        "pairs": pairset.name,
        "n_pairs": len(y),
        "n_positive": int(sum(y)),
        "skipped": pairset.skipped,
        "auc": auc,
        "at_configured_thresholds": at_config,
        "suggested_thresholds": suggested,
        "gate_version": config.version,
    }


def calibrate(path: str | Path, fmt: str, config: GateConfig, scoring: Scoring,
              genre: str | None = "main-captions", limit: int | None = None,
              advance: Callable[[int], None] | None = None) -> dict[str, Any]:
    pairset = load_pairs(path, fmt, config, genre=genre, limit=limit)
    return evaluate(pairset, score_pairs(pairset, scoring, advance=advance), config)


def markdown(report: dict[str, Any]) -> str:
    """The report as a short markdown text (the CLI prints it)."""
    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:.3f}"

    lines = [f"## Calibration on {report['pairs']} ({report['n_pairs']} pairs, "
             f"{report['n_positive']} positive; gate {report['gate_version']})", "",
             *skipped_note(report.get("skipped", [])), "| score | ROC-AUC |", "|---|---|"]
    lines += [f"| {k} | {'–' if v is None else f'{v:.4f}'} |" for k, v in report["auc"].items()]
    lines += ["", "| at configured thresholds | precision | recall | F1 |", "|---|---|---|---|"]
    lines += [f"| {k} | {f(v['precision'])} | {f(v['recall'])} | {f(v['f1'])} |"
              for k, v in report["at_configured_thresholds"].items()]
    lines += ["", "| suggested (max F1) | threshold | precision | recall | F1 |",
              "|---|---|---|---|---|"]
    lines += [f"| {k} | {f(v['threshold'])} | {f(v['precision'])} | {f(v['recall'])} | "
              f"{f(v['f1'])} |" for k, v in report["suggested_thresholds"].items()]
    return "\n".join(lines) + "\n"
