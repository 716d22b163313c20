"""BERTScore from token embeddings the SBERT pass already computed.

When the SBERT and BERTScore scorers use the same model and BERTScore reads its last layer (the
default: the packaged MiniLM, 6 layers), the two would run the same forward pass over the same
texts. The gate runs it once (sentence-transformers, `output_value=None` keeps the token
embeddings) and hands the token embeddings to bert-score's own greedy matching
(`bert_score.utils.greedy_cos_idf`), with bert-score's weights: 1 per word piece, 0 for the
[CLS] / [SEP] markers. Scores match `BERTScorer.score` to float noise (tests/quality checks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads only when something is scored: a re-gate reads the cache
    import torch


@dataclass(frozen=True)
class TokenStats:
    """One text's last-layer token embeddings (markers included) and bert-score weights."""

    embedding: torch.Tensor  # (tokens, dim)
    weight: torch.Tensor  # (tokens,): 0 for [CLS] / [SEP], 1 otherwise
    truncated: bool  # hit the encoder's max_seq_length: bert-score itself may read more


def _pad(stats: Sequence[TokenStats]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """As bert-score pads a batch: embeddings padded with 2.0, a length mask, padded weights."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    emb = pad_sequence([s.embedding for s in stats], batch_first=True, padding_value=2.0)
    weight = pad_sequence([s.weight for s in stats], batch_first=True)
    lens = torch.tensor([s.embedding.shape[0] for s in stats])
    mask = torch.arange(emb.shape[1]).expand(len(stats), -1) < lens.unsqueeze(1)
    return emb, mask, weight


def greedy_scores(pairs: Sequence[tuple[str, str]], stats: Mapping[str, TokenStats],
                  batch_size: int) -> list[tuple[float, float, float]]:
    """(P, R, F1) of each (original = reference, candidate) pair, in order."""
    import torch
    from bert_score.utils import greedy_cos_idf

    out: list[tuple[float, float, float]] = []
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start:start + batch_size]
            ref = _pad([stats[o] for o, _ in batch])
            hyp = _pad([stats[c] for _, c in batch])
            p, r, f = greedy_cos_idf(*ref, *hyp)
            out.extend(zip(p.tolist(), r.tolist(), f.tolist(), strict=True))
    return out
