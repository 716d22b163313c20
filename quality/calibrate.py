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
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import RobustclapError
from quality.config import GateConfig
from quality.decide import GATES, rank_score
from quality.metrics import best_f1_threshold, precision_recall, roc_auc
from quality.scoring import Pair, Scoring

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


def _open(path: Path, encoding: str = "utf-8") -> Any:
    try:
        return path.open(encoding=encoding, newline="")
    except OSError as exc:
        raise RobustclapError(f"cannot read pair file {path}: {exc}") from exc


def _tsv(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with _open(path, encoding) as fh:
        return [row for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE) if row]


def _stsb(path: Path, config: GateConfig, genre: str | None) -> PairSet:
    """Tab-separated, no header: genre, file, year, id, score, sentence1, sentence2[, ...]."""
    pairs, labels = [], []
    for row in _tsv(path):
        if len(row) < 7 or (genre and row[0] != genre):
            continue
        try:
            score = float(row[4])
        except ValueError:
            continue
        pairs.append((row[5], row[6]))
        labels.append(int(score >= config.calibration.stsb_positive_min))
    return PairSet(f"stsb:{path.name}:{genre or 'all'}", pairs, labels)


def _mrpc(path: Path) -> PairSet:
    """TSV with a header (and a UTF-8 BOM): Quality, #1 ID, #2 ID, #1 String, #2 String."""
    rows = _tsv(path, encoding="utf-8-sig")
    pairs, labels = [], []
    for row in rows[1:]:
        if len(row) >= 5 and row[0] in ("0", "1"):
            pairs.append((row[3], row[4]))
            labels.append(int(row[0]))
    return PairSet(f"mrpc:{path.name}", pairs, labels)


def _paws(path: Path) -> PairSet:
    """TSV (CRLF), no header in the labelled-final release: id, sentence1, sentence2, label."""
    pairs, labels = [], []
    for row in _tsv(path):
        if len(row) >= 4 and row[3].strip() in ("0", "1"):
            pairs.append((row[1], row[2]))
            labels.append(int(row[3]))
    return PairSet(f"paws:{path.name}", pairs, labels)


def _clotho(path: Path, config: GateConfig) -> PairSet:
    """CSV file_name, caption_1..caption_5; sampled same-clip / different-clip pairs."""
    with _open(path) as fh:
        clips = [
            [c for k, c in row.items() if k and k.startswith("caption") and c and c.strip()]
            for row in csv.DictReader(fh)
        ]
    clips = [c for c in clips if len(c) >= 2]
    if len(clips) < 2:
        raise RobustclapError(f"{path}: needs at least two clips with two captions")
    rng = random.Random(config.calibration.seed)
    pairs, labels = [], []
    for i in range(config.calibration.sample_pairs):
        if i % 2 == 0:
            a, b = rng.sample(rng.choice(clips), 2)
            labels.append(1)
        else:
            x, y = rng.sample(clips, 2)
            a, b = rng.choice(x), rng.choice(y)
            labels.append(0)
        pairs.append((a, b))
    return PairSet(f"clotho:{path.name}", pairs, labels)


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
        raise RobustclapError(f"{path}: no labelled pairs found for format {fmt!r}")
    if limit is not None and limit < len(pairset.pairs):
        keep = sorted(random.Random(config.calibration.seed).sample(range(len(pairset.pairs)),
                                                                    limit))
        pairset = PairSet(pairset.name, [pairset.pairs[i] for i in keep],
                          [pairset.labels[i] for i in keep])
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


def score_pairs(pairset: PairSet, scoring: Scoring, chunk: int = 1024,
                log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Scores of every pair, computed in chunks so memory stays bounded."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(pairset.pairs), chunk):
        out.extend(dict(s) for s in scoring.score(pairset.pairs[start:start + chunk]))
        if log:
            log(f"scored {len(out)}/{len(pairset.pairs)} pairs")
    return out


def evaluate(pairset: PairSet, scores: list[dict[str, Any]], config: GateConfig
             ) -> dict[str, Any]:
    """AUC of each score and of the combined score, the gate's precision/recall, and the
    thresholds that maximise F1."""
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
        "auc": auc,
        "at_configured_thresholds": at_config,
        "suggested_thresholds": suggested,
        "gate_version": config.version,
    }


def calibrate(path: str | Path, fmt: str, config: GateConfig, scoring: Scoring,
              genre: str | None = "main-captions", limit: int | None = None,
              log: Callable[[str], None] | None = None) -> dict[str, Any]:
    pairset = load_pairs(path, fmt, config, genre=genre, limit=limit)
    return evaluate(pairset, score_pairs(pairset, scoring, log=log), config)


def markdown(report: dict[str, Any]) -> str:
    """The report as a short markdown text (the CLI prints it)."""
    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:.3f}"

    lines = [f"## Calibration on {report['pairs']} ({report['n_pairs']} pairs, "
             f"{report['n_positive']} positive; gate {report['gate_version']})", "",
             "| score | ROC-AUC |", "|---|---|"]
    lines += [f"| {k} | {'–' if v is None else f'{v:.4f}'} |" for k, v in report["auc"].items()]
    lines += ["", "| at configured thresholds | precision | recall | F1 |", "|---|---|---|---|"]
    lines += [f"| {k} | {f(v['precision'])} | {f(v['recall'])} | {f(v['f1'])} |"
              for k, v in report["at_configured_thresholds"].items()]
    lines += ["", "| suggested (max F1) | threshold | precision | recall | F1 |",
              "|---|---|---|---|---|"]
    lines += [f"| {k} | {f(v['threshold'])} | {f(v['precision'])} | {f(v['recall'])} | "
              f"{f(v['f1'])} |" for k, v in report["suggested_thresholds"].items()]
    return "\n".join(lines) + "\n"
