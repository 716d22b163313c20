"""Scores of (original, candidate) pairs through the cache: compute only what is missing.

A pair's scores are keyed by the pair's text and by each scorer's identity (model, parameters,
code version), never by thresholds. Pairs are scored in batches; every distinct text in a batch
is encoded or parsed once, and sentence embeddings are also cached per text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from robustclap.quality.cache import Payload, ScoreCache
from robustclap.quality.config import GateConfig
from robustclap.quality.scores_semantic import BertScoreScorer, SbertEncoder, SbertScorer
from robustclap.quality.scores_structure import StructureScorer, SurfaceScorer
from robustclap.quality.text import pair_key

Pair = tuple[str, str]  # (original caption, candidate paraphrase)


class Scorer(Protocol):
    identity: str
    columns: tuple[str, ...]

    def compute(self, pairs: Sequence[Pair]) -> list[Payload]: ...


class Scoring:
    """All scorers of a gate config over one cache."""

    def __init__(self, config: GateConfig, cache: ScoreCache) -> None:
        s = config.scorers
        self.cache = cache
        self.encoder = SbertEncoder(s.sbert, cache)
        # same model for both: BERTScore reads the SBERT pass's token embeddings
        share = s.bertscore.model == s.sbert.model
        self.encoder.keep_tokens = share
        self.bertscore = BertScoreScorer(s.bertscore, self.encoder if share else None)
        self.structure = StructureScorer(
            s.structure, self.encoder.align_words(s.structure.align_min_sim),
            self.encoder.identity,
        )
        self.scorers: list[Scorer] = [
            SurfaceScorer(s.surface, s.sbert.model),
            SbertScorer(self.encoder),
            self.bertscore,
            self.structure,
        ]
        self.computed = 0  # pair scores computed (not read from the cache), all scorers

    @property
    def columns(self) -> list[str]:
        return [c for scorer in self.scorers for c in scorer.columns]

    def ensure(self, pairs: Sequence[Pair]) -> int:
        """Compute and cache every score the cache lacks for these pairs; return how many."""
        unique = list(dict.fromkeys(pairs))
        keys = [pair_key(o, c) for o, c in unique]
        done = 0
        for scorer in self.scorers:
            have = self.cache.get_scores(scorer.identity, keys)
            todo = [(k, p) for k, p in zip(keys, unique, strict=True) if k not in have]
            if not todo:
                continue
            payloads = scorer.compute([p for _, p in todo])
            self.cache.put_scores(scorer.identity, {k: v for (k, _), v in
                                                    zip(todo, payloads, strict=True)})
            done += len(todo)
        self.encoder.release_tokens()
        self.computed += done
        return done

    def lookup(self, pairs: Sequence[Pair]) -> dict[Pair, Payload]:
        """Every score of every pair, merged into one payload per pair."""
        unique = list(dict.fromkeys(pairs))
        keys = {p: pair_key(*p) for p in unique}
        merged: dict[Pair, Payload] = {p: {} for p in unique}
        missing: list[Pair] = []
        for scorer in self.scorers:
            have = self.cache.get_scores(scorer.identity, keys.values())
            for p in unique:
                if keys[p] in have:
                    merged[p].update(have[keys[p]])
                else:
                    missing.append(p)
        if missing:
            self.ensure(missing)
            return self.lookup(unique)
        return merged

    def score(self, pairs: Sequence[Pair]) -> list[Payload]:
        """Scores of each pair in order (computing what the cache lacks)."""
        self.ensure(pairs)
        found = self.lookup(pairs)
        return [found[p] for p in pairs]
