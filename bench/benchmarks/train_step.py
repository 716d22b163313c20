"""5. train step: the toolkit's multi-view step (original + level-1 + level-2 captions:
training.train.encode_batch + MultiViewClipLoss, backward, grad-norm clip, AdamW step) vs a
baseline CLAP step on the same batch and model (transformers' ClapModel(..., return_loss=True)
on the original captions, backward, AdamW step; both AdamWs fused). CPU, fp32. Two configs:
the tiny test model, and a realistic-size random one (ClapConfig defaults: HTSAT-tiny audio +
RoBERTa-base-size text, as laion/clap-htsat-unfused), batch 8.

The multi-view step does more work by design (three text views instead of one, and three
loss terms); the goal (ratio <= 1.4) says how much that extra costs.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch

from robustclap.bench.common import REPO, sized
from robustclap.bench.harness import Goal, Result, alternate


def _batch(bundle, b: int):
    import pandas as pd

    from robustclap.training.loader import Batch

    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(480_000).astype(np.float32) * 0.1 for _ in range(b)]
    feats = bundle.frontend.extractor(waves, sampling_rate=48_000, return_tensors="pt")
    caps = pd.read_csv(REPO / "examples" / "captions.csv")["caption"].astype(str).tolist()
    caps = (caps * (b // len(caps) + 1))[:b]
    return Batch(epoch=0, batch=0, input_features=feats["input_features"],
                 is_longer=feats["is_longer"], audio_index=torch.arange(b),
                 clip_keys=torch.arange(b), clip_ids=[f"c{i}" for i in range(b)],
                 indices=list(range(b)), captions=caps,
                 p1=[f"{c} (heard)" for c in caps], p2=[f"Someone hears: {c.lower()}"
                                                      for c in caps])


def _bundle(kind: str):
    from transformers import ClapConfig, ClapModel

    from robustclap.training.tiny import build_tiny_clap

    bundle = build_tiny_clap()
    if kind == "realistic":
        torch.manual_seed(0)
        cfg = ClapConfig()  # HTSAT-tiny + RoBERTa-base-size text tower, projection 512
        bundle.model = ClapModel(cfg)
    return bundle


def _measure(kind: str, b: int, steps: int, repeats: int) -> tuple:
    from robustclap.training.loss import MultiViewClipLoss
    from robustclap.training.model import DualEncoder, clamp_logit_scale
    from robustclap.training.train import adamw, encode_batch, param_groups

    bundle = _bundle(kind)
    batch = _batch(bundle, b)
    tok = bundle.tokenizer
    max_len = 77
    model_t = bundle.model
    model_b = copy.deepcopy(bundle.model)
    net = DualEncoder(model_t).train()
    model_b.train()
    opt_t = adamw(param_groups(model_t, 0.01), lr=1e-5)  # what training.train builds
    # the baseline gets the same fused kernel: the plain one-flag best use of torch's AdamW
    opt_b = torch.optim.AdamW(model_b.parameters(), lr=1e-5, weight_decay=0.01, fused=True)
    loss_fn = MultiViewClipLoss({1: 1.0, 2: 1.0})
    enc = tok(batch.captions, padding=True, truncation=True, max_length=max_len,
              return_tensors="pt")

    def toolkit() -> None:
        for _ in range(steps):
            audio, caption, views, scale = encode_batch(net, tok, batch, [1, 2], max_len,
                                                        torch.device("cpu"))
            parts = loss_fn(audio, caption, batch.clip_keys, scale, views)
            parts["loss"].backward()
            torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad],
                                           1.0)
            opt_t.step()
            opt_t.zero_grad(set_to_none=True)
            clamp_logit_scale(model_t)

    def baseline() -> None:
        for _ in range(steps):
            out = model_b(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                          input_features=batch.input_features, is_longer=batch.is_longer,
                          return_loss=True)
            out.loss.backward()
            opt_b.step()
            opt_b.zero_grad(set_to_none=True)

    comp = alternate(toolkit, baseline, repeats=repeats, warmup=1)
    n_params = sum(p.numel() for p in model_t.parameters())
    return comp, n_params


def run(workdir: Path, **opts) -> Result:
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    steps, repeats = sized(opts, "train_steps"), opts["repeats"]
    res = Result("train_step", "train step: multi-view vs baseline CLAP step",
                 params={"steps_per_measure": steps, "repeats": repeats,
                         "torch_threads": torch.get_num_threads()})
    configs = [("tiny", 8, steps)]
    if opts.get("size") != "smoke":
        configs.append(("realistic", 8, max(1, steps // 5)))
    for kind, b, n in configs:
        t = time.perf_counter()
        comp, n_params = _measure(kind, b, n, repeats)
        res.comparisons[f"{kind}_b{b}_s_per_{n}_steps"] = comp
        res.metrics[f"{kind}_params"] = n_params
        res.metrics[f"{kind}_wall_s"] = round(time.perf_counter() - t, 1)
        if comp.toolkit_median:
            res.metrics[f"{kind}_toolkit_s_per_step"] = round(comp.toolkit_median / n, 4)
            res.metrics[f"{kind}_baseline_s_per_step"] = round(comp.baseline_median / n, 4)
        res.goals.append(Goal(f"{kind} (batch {b}) multi-view / baseline step", comp.ratio, 1.4))
    res.notes.append("the multi-view step encodes 3 texts per example (original, level 1, "
                     "level 2) against 1 in the baseline (one text pass, texts packed several "
                     "to a row); audio is encoded once in both")
    return res
