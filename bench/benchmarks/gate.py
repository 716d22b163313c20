"""4. gate overhead: `robustclap gate` (run_gate, fresh score cache) on N candidates vs the bare
encoder forward passes those candidates need: SentenceTransformer.encode over the unique texts
and bert-score's BERTScorer.score over the unique pairs, with the same (packaged MiniLM) models
and batch sizes. Both sides load their models inside the timed region (a fresh gate run does).

Candidates are real captions: Clotho (validation, then development) caption_1 as the original,
captions 2-3 as level-1 and 4-5 as level-2 candidates (when /work/shared/data is absent, the
shipped examples with a numbered suffix).
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

import pandas as pd

from robustclap.bench.common import REPO, SHARED_DATA, sized
from robustclap.bench.harness import Goal, Result, alternate
from robustclap.contracts import layout
from robustclap.contracts.schema import CANDIDATES, col, status, write_table


def _pairs(n_captions: int) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for name in ("validation.csv", "development.csv"):
        f = SHARED_DATA / "clotho" / name
        if f.is_file() and len(out) < n_captions:
            df = pd.read_csv(f)
            for row in df.itertuples(index=False):
                caps = [str(getattr(row, f"caption_{i}")) for i in range(1, 6)]
                out.append((caps[0], caps[1:]))
    if len(out) < n_captions:
        ex = pd.read_csv(REPO / "examples" / "captions.csv")["caption"].astype(str).tolist()
        i = 0
        while len(out) < n_captions:
            k = i % len(ex)
            out.append((f"{ex[k]} ({i})", [f"{ex[(k + j) % len(ex)]} ({i})" for j in range(1, 5)]))
            i += 1
    return out[:n_captions]


def write_candidates(folder: Path, n_rows: int) -> int:
    pairs = _pairs(max(n_rows // 4, 1))
    rows = []
    for i, (orig, cands) in enumerate(pairs):
        for j, text in enumerate(cands):
            rows.append({col.caption_id: f"c{i:07d}", col.clip_id: f"clip{i:07d}",
                         col.split: "train", col.source: "clotho", col.caption: orig,
                         col.level: 1 + j // 2, col.candidate: j % 2, col.input_text: orig,
                         col.paraphrase: text, col.status: status.ok, col.fail_reason: None,
                         col.raw_reply: None, col.model: "bench", col.model_revision: "0",
                         col.prompt_version: "p", col.sampling: "{}", col.seed: 0,
                         col.attempt: 0, col.finish_reason: "stop", col.prompt_tokens: 0,
                         col.completion_tokens: 0, col.latency_s: 0.0, col.from_cache: False,
                         col.run_id: "bench"})
    rows = rows[:n_rows]
    for row in rows:  # columns a newer CANDIDATES schema adds stay empty (nullable ones)
        for name in CANDIDATES.columns:
            row.setdefault(name, None)
    df = pd.DataFrame(rows)
    df[col.level] = df[col.level].astype("int8")
    df[col.candidate] = df[col.candidate].astype("int16")
    write_table(CANDIDATES, df, layout.shard_file(folder, 0, 0))
    return len(df)


def _new_parts_cost(src: Path, workdir: Path, cfg) -> dict[str, float]:
    """What the faithfulness issue's parts cost (issue 22): the same gate, cold cache, with
    and without WordNet matching, soft coverage and the learned decisions, back to back."""
    from robustclap.quality.gate import run_gate

    structure = cfg.scorers.structure.model_copy(update={"wordnet": False})
    plain = cfg.model_copy(update={
        "scorers": cfg.scorers.model_copy(update={"structure": structure}),
        "learned": cfg.learned.model_copy(update={"enabled": False})})
    walls = {}
    for name, config in (("with_wordnet_and_learned_s", cfg), ("without_s", plain)):
        out = workdir / f"parts-{name}"
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        run_gate(src, out, config, cache_path=out / "cache.sqlite")
        walls[name] = round(time.perf_counter() - t, 2)
        shutil.rmtree(out, ignore_errors=True)
    walls["new_parts_share"] = round(
        (walls["with_wordnet_and_learned_s"] - walls["without_s"])
        / walls["with_wordnet_and_learned_s"], 3)
    return {f"issue22_{k}": v for k, v in walls.items()}


def run(workdir: Path, **opts) -> Result:
    from robustclap.quality.config import load_config
    from robustclap.quality.gate import run_gate
    from robustclap.quality.scores_semantic import PACKAGED_LAYERS, resolve_model

    workdir.mkdir(parents=True, exist_ok=True)
    n, repeats = sized(opts, "gate_rows"), opts["repeats"]
    src = workdir / "gen"
    shutil.rmtree(src, ignore_errors=True)
    n = write_candidates(src, n)
    cfg = load_config()
    df = pd.read_parquet(src / layout.CANDIDATES_DIR)
    pairs = list(dict.fromkeys(zip(df[col.caption], df[col.paraphrase], strict=True)))
    texts = list(dict.fromkeys(t for p in pairs for t in p))
    res = Result("gate", "gate overhead: robustclap gate vs bare encoder forward passes",
                 params={"candidates": n, "unique_pairs": len(pairs), "unique_texts": len(texts),
                         "repeats": repeats, "sbert": cfg.scorers.sbert.model,
                         "bertscore": cfg.scorers.bertscore.model,
                         "data": "clotho" if (SHARED_DATA / "clotho").is_dir() else "examples"})
    runs = {"i": 0}
    counts: dict = {}
    one_pass: list[float] = []

    def toolkit() -> float:
        runs["i"] += 1
        out = workdir / f"gate{runs['i']}"
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        g = run_gate(src, out, cfg, cache_path=out / "cache.sqlite")
        wall = time.perf_counter() - t
        counts.update(accepted=g.rows_out, rejected=g.rejected,
                      scores_computed=g.counts["scores_computed"])
        shutil.rmtree(out, ignore_errors=True)
        return wall

    def baseline() -> float:
        from bert_score import BERTScorer
        from sentence_transformers import SentenceTransformer

        t = time.perf_counter()
        model = SentenceTransformer(resolve_model(cfg.scorers.sbert.model))
        model.encode(texts, batch_size=cfg.scorers.sbert.batch_size, normalize_embeddings=True,
                     convert_to_numpy=True, show_progress_bar=False)
        one_pass.append(time.perf_counter() - t)
        scorer = BERTScorer(model_type=resolve_model(cfg.scorers.bertscore.model),
                            num_layers=cfg.scorers.bertscore.num_layers or PACKAGED_LAYERS,
                            lang="en", batch_size=cfg.scorers.bertscore.batch_size)
        scorer.score([c for _, c in pairs], [o for o, _ in pairs],
                     batch_size=cfg.scorers.bertscore.batch_size)
        return time.perf_counter() - t

    comp = alternate(toolkit, baseline, repeats=repeats)
    res.comparisons["gate_wall_s"] = comp
    res.metrics.update(counts)
    rate = n / comp.toolkit_median if comp.toolkit_median else None
    res.metrics["gate_candidates_per_s"] = round(rate, 1) if rate else None
    if one_pass and comp.toolkit_median:
        # the floor: one MiniLM pass over the unique texts, what SBERT alone needs
        one = statistics.median(one_pass)
        res.metrics["bare_sbert_pass_s"] = round(one, 2)
        res.metrics["gate_wall_over_one_encoder_pass"] = round(comp.toolkit_median / one, 3)
    res.metrics.update(_new_parts_cost(src, workdir, cfg))
    res.goals.append(Goal("gate wall / bare encoder passes", comp.ratio, 1.15))
    res.goals.append(Goal("gate candidates/s (whole stage)", rate, 100, at_least=True))
    res.notes.append("the toolkit side also runs what the bare side does not: spaCy parsing "
                     "and fact checks (structure scorer), word alignment embeddings, surface "
                     "scores, decisions, Parquet outputs and the summary")
    res.notes.append("bare side = a plain script with both libraries: sentence-transformers "
                     "encode over the unique texts, then bert-score's BERTScorer over the unique "
                     "pairs (each runs its own MiniLM pass); the toolkit runs one MiniLM pass "
                     "per text for both when, as by default, they share the model. "
                     "gate_wall_over_one_encoder_pass compares with the SBERT pass alone")
    return res
