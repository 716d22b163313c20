"""Train the scene CLAP on precomputed features with the package's own step, then score it.

The step is training.train's: `encode_batch` (audio once, all text views in one packed pass),
`MultiViewClipLoss`, gradient clipping, fused AdamW with warmup + cosine, logit-scale clamp.
What changes is only where the batch comes from: cached log-mels instead of decoded files.

Every random choice is a function of the seed alone (model init, batch order, which accepted
paraphrase an example shows, dropout), so settings that differ only in the loss weights see the
same model, the same batches and the same paraphrase picks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from robustclap.training.loader import Batch, EpochBatches
from robustclap.training.loss import MultiViewClipLoss
from robustclap.training.metrics import retrieval_metrics
from robustclap.training.model import ClapBundle, DualEncoder, clamp_logit_scale, tokenize
from robustclap.training.scene_clap import MAX_TEXT_LEN
from robustclap.training.train import adamw, encode_batch, param_groups, warmup_cosine


@dataclass
class TrainSet:
    features: np.ndarray  # (N, 1, frames, mels) log-mels, or (N, 512) frozen-tower embeddings
    captions: list[str]
    p1: list[tuple[str, ...]]  # accepted level-1 paraphrases of each caption (may be empty)
    p2: list[tuple[str, ...]]


@dataclass(frozen=True)
class FitConfig:
    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    pretrained_lr_scale: float = 1.0  # lr multiplier for a two-tower model's pretrained towers
    frozen_text_layers: int = 0  # the text tower's first N layers (and embeddings when N > 0)
    weight_decay: float = 0.01
    warmup_steps: int = 20
    clip_grad_norm: float = 1.0


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str | None:
    return options[int(rng.integers(len(options)))] if options else None


def batch_at(data: TrainSet, epoch: int, b: int, idx: list[int], seed: int) -> Batch:
    """The batch of example indices `idx`; paraphrase picks seeded by (seed, epoch, b)."""
    rng = np.random.default_rng([seed, epoch, b])
    picks = [(_pick(data.p1[i], rng), _pick(data.p2[i], rng)) for i in idx]
    feats = torch.from_numpy(np.asarray(data.features[idx], dtype=np.float32))
    return Batch(epoch=epoch, batch=b, input_features=feats,
                 is_longer=torch.zeros((len(idx), 1), dtype=torch.bool),
                 audio_index=torch.arange(len(idx)), clip_keys=torch.tensor(idx),
                 clip_ids=[str(i) for i in idx], indices=list(idx),
                 captions=[data.captions[i] for i in idx],
                 p1=[p for p, _ in picks], p2=[q for _, q in picks])


def fit(bundle: ClapBundle, data: TrainSet, lambdas: dict[int, float], cfg: FitConfig,
        seed: int) -> list[float]:
    """Train `bundle.model` in place for cfg.steps; returns the loss of every step."""
    torch.manual_seed(seed)  # dropout
    model = bundle.model
    if cfg.frozen_text_layers:
        model.text_model.embeddings.requires_grad_(False)
        for layer in model.text_model.encoder.layer[: cfg.frozen_text_layers]:
            layer.requires_grad_(False)
    net = DualEncoder(model).train()
    levels = [k for k in (1, 2) if lambdas.get(k, 0.0) > 0]
    loss_fn = MultiViewClipLoss(lambdas)
    opt = adamw(param_groups(model, cfg.weight_decay, cfg.lr, cfg.pretrained_lr_scale), cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, warmup_cosine(cfg.warmup_steps, cfg.steps, 0.05))
    order = EpochBatches(len(data.captions), cfg.batch_size, seed)
    device = torch.device("cpu")
    losses, epoch_batches, epoch = [], [], -1
    for step in range(cfg.steps):
        e, b = divmod(step, len(order))
        if e != epoch:
            epoch, epoch_batches = e, order.epoch(e)
        idx = [i for _, i in epoch_batches[b]]
        batch = batch_at(data, e, b, idx, seed)
        audio, caption, views, scale = encode_batch(net, bundle.tokenizer, batch, levels,
                                                    MAX_TEXT_LEN, device)
        parts = loss_fn(audio, caption, batch.clip_keys, scale, views)
        parts["loss"].backward()
        torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad],
                                       cfg.clip_grad_norm)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        clamp_logit_scale(model)
        losses.append(float(parts["loss"].detach()))
    return losses


@torch.no_grad()
def embed_audio(bundle: ClapBundle, features: np.ndarray, batch_size: int = 64) -> np.ndarray:
    model = bundle.model.eval()
    out = []
    for i in range(0, len(features), batch_size):
        x = torch.from_numpy(np.asarray(features[i:i + batch_size], dtype=np.float32))
        longer = torch.zeros((len(x), 1), dtype=torch.bool)
        out.append(model.get_audio_features(input_features=x, is_longer=longer)
                   .pooler_output.numpy())
    return np.concatenate(out)


@torch.no_grad()
def embed_text(bundle: ClapBundle, texts: list[str], batch_size: int = 128) -> np.ndarray:
    model = bundle.model.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tokenize(bundle.tokenizer, texts[i:i + batch_size], MAX_TEXT_LEN,
                       torch.device("cpu"))
        out.append(model.get_text_features(**enc).pooler_output.numpy())
    return np.concatenate(out)


def text_to_audio(audio: np.ndarray, text: np.ndarray, target: list[int]) -> dict[str, float]:
    """R@1, R@5, R@10, mAP@10 of text queries against the test scenes (one relevant each)."""
    relevant = np.zeros((len(target), len(audio)), dtype=bool)
    relevant[np.arange(len(target)), target] = True
    return retrieval_metrics(text @ audio.T, relevant)
