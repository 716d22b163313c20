"""A generated corpus version with realistic captions and plausible scores.

Used by the tests (small) and by the overview benchmark (1,000,000 candidate rows). It writes
exactly the files `corpus.publish` puts in a version, through
`robustclap.contracts.schema.write_table`, so
the dashboard reads it like a real corpus. Generation uses numpy/pandas: only the dashboard
itself must stay within DuckDB.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from robustclap.contracts import layout
from robustclap.contracts.schema import (
    CANDIDATES,
    CAPTIONS,
    CORPUS,
    GATE_REJECTED,
    GATE_SCORES,
    REGENERATE,
    col,
    status,
    write_table,
)
from robustclap.contracts.stage import StageStats, write_stats
from robustclap.corpus.versions import file_entries
from robustclap.quality.config import RULES_CONFIG, default_config_text

# (original, level 1: same words restructured, level 2: new words)
EXAMPLES: tuple[tuple[str, str, str], ...] = (
    ("A dog barks while a car passes by", "While a car passes by, a dog barks",
     "A hound yelps as a vehicle drives past"),
    ("Rain falls on a tin roof", "On a tin roof, rain falls",
     "Water drops patter on a metal ceiling"),
    ("A man speaks and then a door slams", "A man speaks, and a door slams after that",
     "Someone talks before an entrance bangs shut"),
    ("Birds chirp in the distance", "In the distance, birds chirp",
     "Songbirds tweet far away"),
    ("A crowd applauds loudly", "Loudly, a crowd applauds",
     "An audience claps with vigor"),
    ("Water runs from a faucet into a sink", "Into a sink, water runs from a faucet",
     "Liquid pours out of a tap into a basin"),
    ("An engine idles and a horn honks", "A horn honks while an engine idles",
     "A motor hums as a klaxon beeps"),
    ("A baby cries and a woman sings softly", "A woman sings softly and a baby cries",
     "An infant wails while a lady croons gently"),
)
FAIL_REASONS = ("truncated", "invalid_json", "refusal")
SPLITS = ("train",) * 8 + ("val", "test")
GATE_VERSION = "synthetic0001"


def _scores(rng: np.random.Generator, level: np.ndarray, shift: float) -> pd.DataFrame:
    n = len(level)
    l1 = level == 1
    sbert = np.where(l1, rng.normal(0.86, 0.07, n), rng.normal(0.6, 0.12, n)) + shift
    f1 = np.where(l1, rng.normal(0.87, 0.06, n), rng.normal(0.55, 0.1, n)) + shift
    recall = np.where(l1, rng.normal(0.88, 0.1, n), rng.normal(0.35, 0.15, n))
    novelty = np.where(l1, rng.normal(0.1, 0.08, n), rng.normal(0.6, 0.15, n))
    length = rng.lognormal(0.0, 0.25, n)
    return pd.DataFrame({
        col.sbert_cos: np.clip(sbert, -1, 1), col.bertscore_f1: np.clip(f1, 0, 1),
        col.content_recall: np.clip(recall, 0, 1), col.content_novelty: np.clip(novelty, 0, 1),
        col.length_ratio: length,
    })


def _below(values: pd.Series, limit: float | None) -> np.ndarray:
    """values < limit; a null limit is a switched-off gate."""
    return np.zeros(len(values), bool) if limit is None else (values < limit).to_numpy()


def _above(values: pd.Series, limit: float | None) -> np.ndarray:
    return np.zeros(len(values), bool) if limit is None else (values > limit).to_numpy()


def _failed_gates(df: pd.DataFrame, cfg: dict) -> list[list[str]]:
    """The gates a row fails, in the gate's reporting order (a subset of quality.decide's)."""
    g = cfg["gates"]
    deg, l1, l2 = g["degenerate"], g["level1"], g["level2"]
    lv1 = df[col.level].to_numpy() == 1

    def per_level(score: str, check, key1: str, key2: str) -> np.ndarray:  # noqa: ANN001
        return np.where(lv1, check(df[score], l1.get(key1)), check(df[score], l2.get(key2)))

    checks = [
        ("generation_failed", df[col.status].to_numpy() != status.ok),
        ("length_ratio", _below(df[col.length_ratio], deg.get("length_ratio_min"))
         | _above(df[col.length_ratio], deg.get("length_ratio_max"))),
        ("sbert", per_level(col.sbert_cos, _below, "sbert_min", "sbert_min")),
        ("bertscore", per_level(col.bertscore_f1, _below, "bertscore_f1_min",
                                "bertscore_f1_min")),
        ("content_recall", lv1 & _below(df[col.content_recall], l1.get("content_recall_min"))),
        ("vocabulary_change", ~lv1 & (
            _above(df[col.content_recall], l2.get("content_recall_max"))
            | _below(df[col.content_novelty], l2.get("content_novelty_min")))),
    ]
    masks = np.stack([np.asarray(m, dtype=bool) for _, m in checks], axis=1)
    scored = ~masks[:, 0]
    masks[:, 1:] &= scored[:, None]
    names = np.array([name for name, _ in checks], dtype=object)
    return [list(names[row]) for row in masks]


def write_version(root: Path, version: int, n_captions: int, candidates: int = 2,
                  seed: int = 0, shift: float = 0.0, fail_share: float = 0.1,
                  shard_rows: int = 250_000) -> Path:
    """Write `<root>/v<version>/` with n_captions * 2 levels * `candidates` candidate rows."""
    rng = np.random.default_rng(seed)
    out = layout.version_dir(root, version)
    out.mkdir(parents=True, exist_ok=True)
    # the rule stack: every gate is a threshold on one score, which this corpus simulates
    cfg_text = default_config_text(RULES_CONFIG)
    cfg = yaml.safe_load(cfg_text)
    idx = np.arange(n_captions)
    ex = idx % len(EXAMPLES)
    captions = pd.DataFrame({
        col.caption_id: [f"c{i:07d}" for i in idx],
        col.clip_id: [f"clip{i // 2:07d}" for i in idx],
        col.split: np.array(SPLITS)[idx % len(SPLITS)],
        col.caption: [EXAMPLES[e][0] for e in ex],
        col.source: "synthetic", col.source_file: "synthetic.csv", col.source_row: idx,
    })
    write_table(CAPTIONS, captions, out / layout.CAPTIONS_FILE)

    per = 2 * candidates
    rows = np.repeat(idx, per)
    level = np.tile(np.repeat([1, 2], candidates), n_captions).astype(np.int8)
    cand = np.tile(np.arange(candidates), 2 * n_captions).astype(np.int16)
    failed = rng.random(len(rows)) < fail_share
    texts = np.array([[e[1], e[2]] for e in EXAMPLES], dtype=object)
    para = texts[ex[rows], level - 1]
    para = np.where(cand > 0, para + " again", para)
    cands = pd.DataFrame({
        col.caption_id: captions[col.caption_id].to_numpy()[rows],
        col.clip_id: captions[col.clip_id].to_numpy()[rows],
        col.split: captions[col.split].to_numpy()[rows],
        col.source: "synthetic", col.caption: captions[col.caption].to_numpy()[rows],
        col.level: level, col.candidate: cand, col.input_text: None,
        col.paraphrase: np.where(failed, None, para),
        col.status: np.where(failed, status.failed, status.ok),
        col.fail_reason: np.where(failed, np.array(FAIL_REASONS)[rng.integers(0, 3, len(rows))],
                                  None),
        col.raw_reply: None, col.model: "synthetic-llm", col.model_revision: "0",
        col.prompt_version: "p1", col.sampling: "{}", col.seed: 0, col.attempt: 1,
        col.finish_reason: "stop", col.prompt_tokens: rng.integers(300, 900, len(rows)),
        col.completion_tokens: rng.integers(10, 60, len(rows)),
        col.latency_s: rng.random(len(rows)), col.from_cache: False, col.run_id: "r0",
        col.feedback: None,
    })
    for i, start in enumerate(range(0, len(cands), shard_rows)):
        write_table(CANDIDATES, cands.iloc[start:start + shard_rows],
                    layout.shard_file(out, 0, i))

    scores = pd.concat([cands[[col.caption_id, col.level, col.candidate, col.status]],
                        _scores(rng, level, shift)], axis=1)
    score_cols = [c for c in scores.columns if c not in (col.caption_id, col.level,
                                                         col.candidate, col.status)]
    scores.loc[failed, score_cols] = np.nan
    fg = _failed_gates(scores, cfg)
    scores[col.failed_gates] = fg
    scores[col.passed] = [not g for g in fg]
    scores[col.rank_score] = (scores[col.sbert_cos] + scores[col.bertscore_f1]) / 2
    scores[col.gate_version] = GATE_VERSION
    for f in GATE_SCORES.schema:
        if f.name not in scores.columns:
            scores[f.name] = None
    write_table(GATE_SCORES, scores, out / layout.SCORES_FILE)

    passed = scores[col.passed].to_numpy()
    ranks = (scores[passed].groupby([col.caption_id, col.level])[col.rank_score]
             .rank(ascending=False, method="first") - 1)
    acc = cands[passed].assign(**{col.rank: ranks.astype(int).to_numpy(),
                                  col.gate_version: GATE_VERSION})
    write_table(CORPUS, acc, out / layout.ACCEPTED_FILE)
    rej = cands[~passed].assign(**{
        col.failed_gates: [fg[i] for i in np.flatnonzero(~passed)],
        col.gate_version: GATE_VERSION,
    })
    rej[col.reason] = [g[0] for g in rej[col.failed_gates]]
    write_table(GATE_REJECTED, rej, out / layout.REJECTED_FILE)
    have = acc.groupby([col.caption_id, col.level]).size()
    pairs = pd.MultiIndex.from_product([captions[col.caption_id], [1, 2]])
    missing = pairs.difference(have.index).to_frame(index=False, name=[col.caption_id,
                                                                       col.level])
    write_table(REGENERATE, missing.assign(**{col.previous: None, col.feedback: None}),
                out / layout.REGENERATE_FILE)

    (out / layout.GATE_CONFIG_FILE).write_text(cfg_text, encoding="utf-8")
    prompt = int(cands[col.prompt_tokens].sum())
    completion = int(cands[col.completion_tokens].sum())
    n_ok, n_failed = int((~failed).sum()), int(failed.sum())
    gm = StageStats("generate", "complete", rows_in=len(cands), rows_out=n_ok,
                    rejected=n_failed, wall_s=3600.0, extra={"run_id": "r0", "round": 0},
                    counts={"llm_calls": len(cands), "rows_written": len(cands),
                            "ok_rows": n_ok, "failed_rows": n_failed, "prompt_tokens": prompt,
                            "completion_tokens": completion, "generate_wall_s": 3000.0,
                            "rows_per_s": len(cands) / 3000.0,
                            "tokens_per_s": (prompt + completion) / 3000.0})
    (out / layout.GENERATION_MANIFESTS_DIR).mkdir(exist_ok=True)
    write_stats(gm, out / layout.GENERATION_MANIFESTS_DIR / "r0.json")
    (out / layout.SUMMARY_FILE).write_text("{}", encoding="utf-8")
    (out / layout.MANIFEST_FILE).write_text(json.dumps({
        "name": Path(root).name, "version": version, "model": "synthetic-llm",
        "model_revision": "0", "prompt_versions": {"1": "p1", "2": "p1"},
        "gate_version": GATE_VERSION, "checksums": file_entries(out)}), encoding="utf-8")
    link = Path(root) / layout.LATEST
    if link.is_symlink():
        link.unlink()
    os.symlink(out.name, link)
    return out


def write_evaluation(root: Path, version: int) -> Path:
    """A fine-tuning evaluation.json with the structure training.evaluate writes."""
    def metrics(base: float) -> dict[str, float]:
        return {"R@1": base, "R@5": base + 0.25, "R@10": base + 0.35, "mAP@10": base + 0.1}

    retrieval = {name: {"t2a": metrics(b), "a2t": metrics(b - 0.02)}
                 for name, b in (("original", 0.30), ("level1", 0.27), ("level2", 0.21))}
    drop = {name: {"captions": 100, "original_same_captions": retrieval["original"],
                   "t2a": {k: round(retrieval["original"]["t2a"][k] - v, 6)
                           for k, v in retrieval[name]["t2a"].items()},
                   "a2t": {k: round(retrieval["original"]["a2t"][k] - v, 6)
                           for k, v in retrieval[name]["a2t"].items()}}
            for name in ("level1", "level2")}
    path = layout.finetune_dir(root, version) / layout.EVALUATION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": "clap-finetuned", "split": "test", "clips": 100,
                                "skipped_clips": {}, "retrieval": retrieval, "drop": drop}),
                    encoding="utf-8")
    return path
