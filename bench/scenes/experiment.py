"""The comparison of issue 18: the same scene CLAP, steps, batches and seeds, trained with the
plain CLAP loss (λ = 0), the multi-view loss (λ1 = λ2 = 1), and each paraphrase level alone;
text->audio retrieval for every query kind and the relative paraphrase drop, and zero-shot
ESC-50 classification.

Two CLAPs (`clap`): "two-tower" (issue 24: pretrained aisfx audio CNN, frozen, its embeddings
cached; all-MiniLM-L6-v2 text tower fine-tuned; new heads) and "tiny" (issue 18: transformers'
ClapModel at tiny sizes, from scratch).

relative drop of kind K = (original - K) / original, both on the captions that have a K query.
"llm" pools the level-1 and level-2 LLM paraphrases (each against its own caption).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from robustclap.bench.scenes import zero_shot
from robustclap.bench.scenes.compose import grammar_views
from robustclap.bench.scenes.features import read_scenes, scene_features
from robustclap.bench.scenes.queries import (
    QuerySet,
    accepted_by_text,
    load_corpus,
    test_queries,
    ungated,
)
from robustclap.training.fit_features import (
    FitConfig,
    TrainSet,
    embed_audio,
    embed_text,
    fit,
    text_to_audio,
)
from robustclap.training.scene_clap import build_scene_clap, build_tokenizer, scene_frontend

# name -> (λ per level, which paraphrases the training views come from)
SETTINGS: dict[str, tuple[dict[int, float], str]] = {
    "plain CLAP (λ=0)": ({1: 0.0, 2: 0.0}, "gated"),
    "multi-view (λ1=λ2=1)": ({1: 1.0, 2: 1.0}, "gated"),
    "level 1 only (λ1=1)": ({1: 1.0, 2: 0.0}, "gated"),
    "level 2 only (λ2=1)": ({1: 0.0, 2: 1.0}, "gated"),
}
# ablations: the same multi-view loss on every paraphrase the LLM wrote, before the gates; and
# on rewrites in the scenes' own grammar (compose.grammar_views: exact, one or two for most
# training scenes), what a plentiful faithful corpus would give
UNGATED = {"multi-view, ungated views (λ1=λ2=1)": ({1: 1.0, 2: 1.0}, "ungated"),
           "multi-view, grammar views (λ1=λ2=1)": ({1: 1.0, 2: 1.0}, "grammar")}
PLAIN, MULTI = "plain CLAP (λ=0)", "multi-view (λ1=λ2=1)"
# the two-tower model before any training (random heads): the zero-shot "before" reference
BEFORE = {"before fine-tuning (random heads)": ({1: 0.0, 2: 0.0}, "none")}
METRICS = ("R@1", "R@5", "R@10", "mAP@10")
CLAPS = ("two-tower", "tiny")
KINDS = ("original", "llm", "llm_level1", "llm_level2", "reworded")


@dataclass
class Prepared:
    train: TrainSet  # views: gated paraphrases
    train_ungated: TrainSet  # views: every paraphrase the LLM wrote
    train_grammar: TrainSet  # views: compose.grammar_views of each training scene
    test_features: np.ndarray
    queries: dict[str, QuerySet]
    tokenizer: object
    stats: dict
    clap: str = "tiny"
    zero_shot: zero_shot.ZeroShotSet | None = None


def prepare(scenes_dir: str | Path, data_dir: str | Path | None,
            corpus: pd.DataFrame | None = None, max_train: int | None = None,
            max_test: int | None = None, raw: pd.DataFrame | None = None,
            clap: str = "tiny", max_zero_shot: int | None = None) -> Prepared:
    """Training examples (with paraphrases), test features and queries, the tokenizer, the
    zero-shot clips (when `data_dir` is given). `corpus`: the gated paraphrases (default: the
    published corpus); `raw`: every LLM paraphrase (default: the published version's
    candidates); `clap`: which model's front end and tokenizer (CLAPS)."""
    if clap not in CLAPS:
        raise ValueError(f"clap must be one of {CLAPS}, got {clap!r}")
    scenes = read_scenes(scenes_dir)
    corpus = load_corpus(scenes_dir) if corpus is None else corpus
    raw = ungated(scenes_dir) if raw is None else raw
    train = [s for s in scenes if s.split == "train"][:max_train]
    test = [s for s in scenes if s.split == "test"][:max_test]
    frontend = scene_frontend() if clap == "tiny" else _two_tower_frontend()
    feats = scene_features(scenes_dir, train + test, frontend, None, data_dir)
    paras = accepted_by_text(corpus, "train")
    p1 = [paras.get((s.caption, 1), ()) for s in train]
    p2 = [paras.get((s.caption, 2), ()) for s in train]
    raw_paras = accepted_by_text(raw, "train")
    r1 = [raw_paras.get((s.caption, 1), ()) for s in train]
    r2 = [raw_paras.get((s.caption, 2), ()) for s in train]
    queries = test_queries(test, corpus)
    queries["llm"] = QuerySet(queries["llm_level1"].texts + queries["llm_level2"].texts,
                              queries["llm_level1"].target + queries["llm_level2"].target)
    # one tokenizer for every setting, learnt from the training texts only (captions and
    # every paraphrase the LLM wrote for them; the test texts never)
    texts = [s.caption for s in train] + [t for ps in p1 + p2 + r1 + r2 for t in ps]
    stats = {
        "train_scenes": len(train), "test_scenes": len(test),
        "train_scenes_with_level1": sum(bool(x) for x in p1),
        "train_scenes_with_level2": sum(bool(x) for x in p2),
        "train_paraphrases": len({t for ps in p1 + p2 for t in ps}),
        "train_paraphrases_ungated": len({t for ps in r1 + r2 for t in ps}),
        "queries": {k: len(q.texts) for k, q in queries.items()},
    }
    captions = [s.caption for s in train]
    g = [grammar_views(s) for s in train]
    g1 = [(a,) if a else () for a, _ in g]
    g2 = [(b,) if b else () for _, b in g]
    stats["train_grammar_views"] = {"level1": sum(map(bool, g1)), "level2": sum(map(bool, g2))}
    texts += [t for ps in g1 + g2 for t in ps]
    tokenizer = build_tokenizer(texts) if clap == "tiny" else _minilm_tokenizer()
    zs = (zero_shot.esc50_set(scenes_dir, data_dir, frontend, max_zero_shot)
          if data_dir is not None else None)
    if zs is not None:
        stats["zero_shot_clips"] = {"all": int(len(zs.labels)),
                                    "test_sources": int(zs.test_source.sum()),
                                    "classes": len(zs.classes)}
    return Prepared(TrainSet(feats[:len(train)], captions, p1, p2),
                    TrainSet(feats[:len(train)], captions, r1, r2),
                    TrainSet(feats[:len(train)], captions, g1, g2),
                    feats[len(train):], queries, tokenizer, stats, clap, zs)


def _two_tower_frontend():
    from robustclap.training.two_tower import TwoTowerSpec, frontend_for

    return frontend_for(TwoTowerSpec())


def _minilm_tokenizer():
    from transformers import AutoTokenizer

    from robustclap.training.two_tower import minilm_folder

    return AutoTokenizer.from_pretrained(str(minilm_folder()))


def build_model(prep: Prepared, seed: int):
    """A fresh model of the prepared kind; the seed fixes every random initialisation."""
    if prep.clap == "tiny":
        return build_scene_clap(prep.tokenizer, seed)
    from robustclap.training.two_tower import TwoTowerSpec, build_two_tower

    return build_two_tower(TwoTowerSpec(), seed)


def relative_drop(orig: dict[str, float], para: dict[str, float]) -> dict[str, float | None]:
    return {m: (orig[m] - para[m]) / orig[m] if orig[m] > 0 else None for m in METRICS}


def evaluate(bundle, prep: Prepared) -> dict:
    """Metrics of every query kind and the relative drop of every paraphrase kind."""
    audio = embed_audio(bundle, prep.test_features)
    orig = prep.queries["original"]
    orig_emb = embed_text(bundle, orig.texts)
    out: dict = {"retrieval": {}, "drop": {}}
    for kind in KINDS:
        q = prep.queries[kind]
        if not q.texts:
            continue
        emb = orig_emb if kind == "original" else embed_text(bundle, q.texts)
        out["retrieval"][kind] = text_to_audio(audio, emb, q.target)
        if kind != "original":  # the originals of the same captions (test captions are unique)
            base = text_to_audio(audio, orig_emb[q.target], q.target)
            out["drop"][kind] = relative_drop(base, out["retrieval"][kind])
    if prep.zero_shot is not None:
        zs = prep.zero_shot
        out["zero_shot"] = zero_shot.scores(embed_audio(bundle, zs.features),
                                            embed_text(bundle, zero_shot.prompts(zs)), zs)
    return out


def run_setting(prep: Prepared, lambdas: dict[int, float], views: str, cfg: FitConfig,
                seed: int) -> dict:
    start = time.perf_counter()
    bundle = build_model(prep, seed)
    data = {"ungated": prep.train_ungated, "grammar": prep.train_grammar}.get(views, prep.train)
    losses = fit(bundle, data, lambdas, cfg, seed) if views != "none" else [None]
    result = evaluate(bundle, prep)
    result.update(seed=seed, first_loss=losses[0], last_loss=losses[-1],
                  seconds=round(time.perf_counter() - start, 1))
    return result


def _mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample std over seeds; undefined (None) when any seed's value is (a relative
    drop is undefined where the original queries scored 0), never a mean of the others."""
    if not values or any(v is None for v in values):
        return None, None
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarize(runs: dict[str, list[dict]]) -> dict:
    """setting -> {"retrieval"|"drop": kind -> metric -> (mean, std over seeds)}."""
    out: dict = {}
    for name, results in runs.items():
        entry: dict = {"retrieval": {}, "drop": {}, "seeds": [r["seed"] for r in results]}
        for part in ("retrieval", "drop"):
            for kind in KINDS:
                if all(kind in r[part] for r in results):
                    entry[part][kind] = {m: _mean_std([r[part][kind][m] for r in results])
                                         for m in METRICS}
        if all("zero_shot" in r for r in results):
            entry["zero_shot"] = {m: _mean_std([r["zero_shot"][m] for r in results])
                                  for m in ("top1_all", "top1_test_sources")}
        out[name] = entry
    return out


def compare(settings: dict[str, tuple[dict[int, float], str]], prep: Prepared, cfg: FitConfig,
            seeds: list[int], log=None) -> tuple[dict[str, list[dict]], dict]:
    """Every setting with every seed (seed-major, so a cut-short run still compares)."""
    runs: dict[str, list[dict]] = {name: [] for name in settings}
    for seed in seeds:
        for name, (lambdas, views) in settings.items():
            r = run_setting(prep, lambdas, views, cfg, seed)
            runs[name].append(r)
            if log is not None:
                log(f"{name} seed {seed}: original R@1 "
                    f"{r['retrieval']['original']['R@1']:.3f}, llm drop "
                    f"{(r['drop'].get('llm') or {}).get('R@1')}, zero-shot "
                    f"{(r.get('zero_shot') or {}).get('top1_all')}, {r['seconds']} s")
    return runs, summarize(runs)
