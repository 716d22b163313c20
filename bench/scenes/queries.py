"""The scene benchmark's data: training examples with their accepted paraphrases, and the
test queries in three kinds.

- original: the test scenes' captions;
- llm_level1 / llm_level2: every gated LLM paraphrase of each test caption, best rank first
  (captions the gates left without one have no query of that kind; a caption with two accepted
  rewrites gives two queries, each a separate way a user could phrase the search);
- reworded: the hand-written rewording of each test scene (phrases.REWORDINGS), words that no
  prompt or training caption uses.

The drop of a kind is measured on the same captions, paired query by query: each paraphrase
query against the original caption of its scene (a caption with two paraphrase queries counts
twice on both sides).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from robustclap.bench.scenes.compose import Scene
from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import col as c
from robustclap.training.data import read_corpus

QUERY_KINDS = ("original", "llm_level1", "llm_level2", "reworded")
PARAPHRASE_KINDS = QUERY_KINDS[1:]


def published_corpus(scenes_dir: str | Path) -> Path | None:
    """The latest published version of the scenes' paraphrase corpus, if there is one."""
    latest = Path(scenes_dir) / "corpus" / "scenes" / layout.LATEST
    return latest.resolve() if latest.exists() else None


def accepted_by_text(corpus: pd.DataFrame, split: str) -> dict[tuple[str, int], tuple[str, ...]]:
    """(caption text, level) -> accepted paraphrases of that text, best rank first.

    Keyed by text: scenes with the same caption share its paraphrases (the LLM was asked once
    per distinct caption)."""
    rows = corpus[corpus[c.split] == split].sort_values(
        [c.caption, c.level, c.rank, c.candidate], kind="stable")
    out: dict[tuple[str, int], tuple[str, ...]] = {}
    for (caption, level), group in rows.groupby([c.caption, c.level], sort=False):
        texts = [t.strip() for t in group[c.paraphrase] if isinstance(t, str) and t.strip()]
        out[(str(caption), int(level))] = tuple(dict.fromkeys(texts))
    return out


@dataclass(frozen=True)
class QuerySet:
    texts: list[str]
    target: list[int]  # index of the relevant test scene


def test_queries(test: list[Scene], corpus: pd.DataFrame) -> dict[str, QuerySet]:
    paras = accepted_by_text(corpus, "test")
    out = {k: QuerySet([], []) for k in QUERY_KINDS}
    for i, s in enumerate(test):
        out["original"].texts.append(s.caption)
        out["original"].target.append(i)
        out["reworded"].texts.append(s.reworded)
        out["reworded"].target.append(i)
        for level in (1, 2):
            for text in paras.get((s.caption, level), ()):
                out[f"llm_level{level}"].texts.append(text)
                out[f"llm_level{level}"].target.append(i)
    return out


def ungated(scenes_dir: str | Path) -> pd.DataFrame:
    """Every paraphrase the LLM wrote (status ok) for the published version, gate or not, in
    the corpus's columns (rank = candidate index): the ablation "what if nothing were gated"."""
    from robustclap.contracts.schema import CANDIDATES, read_dir
    from robustclap.contracts.schema import status as st

    path = published_corpus(scenes_dir)
    if path is None:
        raise RobustclapError(f"no published paraphrase corpus under {scenes_dir}")
    cands = read_dir(CANDIDATES, path / layout.CANDIDATES_DIR).to_pandas()
    ok = cands[(cands[c.status] == st.ok) & cands[c.paraphrase].notna()].copy()
    ok[c.rank] = ok[c.candidate]
    return ok


def load_corpus(scenes_dir: str | Path) -> pd.DataFrame:
    path = published_corpus(scenes_dir)
    if path is None:
        raise RobustclapError(
            f"no published paraphrase corpus under {Path(scenes_dir) / 'corpus'}: run "
            f"`robustclap run {Path(scenes_dir) / 'paraphrase.yaml'}` (or `robustclap scenes` "
            "without --no-paraphrase) first")
    return read_corpus(path)


def corpus_identity(scenes_dir: str | Path) -> dict:
    """What made the published corpus: version, gate version(s), LLM(s) and prompt versions,
    accepted and candidate counts (the benchmark records them beside its results)."""
    from robustclap.contracts.schema import CANDIDATES, read_dir

    path = published_corpus(scenes_dir)
    if path is None:
        raise RobustclapError(f"no published paraphrase corpus under {scenes_dir}")
    accepted = load_corpus(scenes_dir)
    cands = read_dir(CANDIDATES, path / layout.CANDIDATES_DIR).to_pandas()
    man_file = path / layout.MANIFEST_FILE
    manifest = json.loads(man_file.read_text()) if man_file.is_file() else {}
    return {"path": str(path), "version": manifest.get("version"),
            "created": manifest.get("created"),
            "gate_versions": sorted({str(v) for v in accepted[c.gate_version].dropna()}),
            "models": sorted({str(v) for v in cands[c.model].dropna()}),
            "prompt_versions": sorted({f"L{lv}:{pv}" for lv, pv in
                                       zip(cands[c.level], cands[c.prompt_version], strict=True)
                                       if isinstance(pv, str)}),
            "candidates": int(len(cands)), "accepted": int(len(accepted)),
            "accepted_by_split_level": {f"{sp}/L{lv}": int(n) for (sp, lv), n in
                                        accepted.groupby([c.split, c.level]).size().items()}}
