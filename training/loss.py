"""The multi-view contrastive loss of RobustCLAP (arXiv 2410.16505), in the style of open_clip.

    L = L_clap(audio, caption) + lambda1 * L_p1 + lambda2 * L_p2
    L_pk = sum over the configured pairs of InfoNCE(view k, audio) and InfoNCE(view k, caption)

Every InfoNCE term is symmetric (both directions, averaged) and uses the one learnable logit
scale. Rows of the same clip are positives, never negatives: when a batch holds two captions of
one clip, each caption's logit against the other's audio (or text) is masked out. With no such
duplicates and lambda1 = lambda2 = 0 this is exactly LAION-CLAP's ClipLoss.

On several GPUs the features of all ranks are gathered *with* gradients, as LAION-CLAP's
ClipLoss does with gather_with_grad (torch.distributed.nn.all_gather, spelled out below); every
rank then computes the full loss. Each rank's features receive the sum over ranks of that
loss's gradient (world_size x the true one) and DDP's mean over ranks divides it back out.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient for this rank's slice.

    The semantics of torch.distributed.nn.all_gather (what LAION-CLAP's ClipLoss calls), which
    torch 2.13 deprecates; written out with all_reduce so it runs on NCCL and gloo alike.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def gather_features(x: torch.Tensor, world_size: int) -> torch.Tensor:
    """Concatenate `x` from all ranks, rank order, keeping the gradient path to every rank."""
    if world_size == 1:
        return x
    return _GatherWithGrad.apply(x)


def gather_plain(x: torch.Tensor, world_size: int) -> torch.Tensor:
    """Concatenate a tensor that needs no gradient (clip keys, masks) from all ranks."""
    if world_size == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world_size)]
    dist.all_gather(parts, x)
    return torch.cat(parts, dim=0)


def info_nce(x: torch.Tensor, y: torch.Tensor, clips: torch.Tensor,
             logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE between paired rows x[i] <-> y[i] (normalised features).

    Two matmuls rather than one and a transpose, exactly as LAION-CLAP's ClipLoss computes
    logits_per_audio and logits_per_text, so the no-paraphrase case is bit-identical to it.
    """
    logits_xy = logit_scale * x @ y.T
    logits_yx = logit_scale * y @ x.T
    n = x.shape[0]
    same_clip = clips[:, None] == clips[None, :]
    other_positive = same_clip & ~torch.eye(n, dtype=torch.bool, device=x.device)
    if other_positive.any():
        logits_xy = logits_xy.masked_fill(other_positive, float("-inf"))
        logits_yx = logits_yx.masked_fill(other_positive, float("-inf"))
    labels = torch.arange(n, device=x.device)
    return (F.cross_entropy(logits_xy, labels) + F.cross_entropy(logits_yx, labels)) / 2


class MultiViewClipLoss(nn.Module):
    """L_clap + sum_k lambda_k * L_pk over the views present in the (gathered) batch."""

    def __init__(self, lambdas: dict[int, float] | None = None,
                 pairs: tuple[str, ...] = ("audio", "caption"),
                 rank: int = 0, world_size: int = 1) -> None:
        super().__init__()
        self.lambdas = {1: 1.0, 2: 1.0} if lambdas is None else dict(lambdas)
        if not set(pairs) <= {"audio", "caption"} or not pairs:
            raise ValueError(f"pairs must be a non-empty subset of audio, caption: {pairs}")
        self.pairs = tuple(pairs)
        self.rank, self.world_size = rank, world_size

    def forward(self, audio: torch.Tensor, caption: torch.Tensor, clips: torch.Tensor,
                logit_scale: torch.Tensor,
                views: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None,
                ) -> dict[str, torch.Tensor]:
        """Losses of one local batch.

        audio, caption: (B, D) normalised features, row i = example i (audio repeated for
        examples of the same clip); clips: (B,) clip keys; views: level -> ((B, D) features,
        (B,) bool present), absent rows may hold anything. Returns "loss" (the total to
        backpropagate), "clap", and "p{k}", "p{k}_{pair}" for each level with lambda > 0.
        """
        ws = self.world_size
        audio, caption = gather_features(audio, ws), gather_features(caption, ws)
        clips = gather_plain(clips, ws)
        out = {"clap": info_nce(audio, caption, clips, logit_scale)}
        total = out["clap"]
        for level, (feats, present) in sorted((views or {}).items()):
            lam = self.lambdas.get(level, 0.0)
            if lam == 0:
                continue
            feats, present = gather_features(feats, ws), gather_plain(present, ws)
            if not bool(present.any()):
                continue
            others = {"audio": audio, "caption": caption}
            term = feats.new_zeros(())
            for pair in self.pairs:
                part = info_nce(feats[present], others[pair][present], clips[present],
                                logit_scale)
                out[f"p{level}_{pair}"] = part
                term = term + part
            out[f"p{level}"] = term
            total = total + lam * term
        out["loss"] = total
        return out
