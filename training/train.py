"""Fine-tune CLAP with the multi-view loss. Read top to bottom: `_train` is the loop (set-up,
one optimiser step at a time, metrics, checkpoints, export); the functions after it are its
steps, in the order they run.

    robustclap train --config train.yaml                 # one process: CPU or one GPU
    torchrun --standalone --nproc_per_node 8 -m robustclap.training.train train.yaml  # DDP

Gradient accumulation sums micro-batch gradients; each micro-batch is its own contrastive batch
(its negatives are its own examples, gathered across GPUs), as in open_clip without its feature
cache. A NaN/inf loss or gradient stops the run before the optimiser step, naming step and batch.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.stage import StageStats
from robustclap.training import checkpoint, dist, two_tower
from robustclap.training.config import TrainConfig, load_config, resume_fingerprint
from robustclap.training.data import build_training_view, read_captions, read_corpus
from robustclap.training.loader import Batch, BatchStream, EpochBatches, ExampleDataset
from robustclap.training.logs import MetricsLog
from robustclap.training.loss import MultiViewClipLoss
from robustclap.training.model import (
    DualEncoder,
    apply_freezing,
    apply_lora,
    clamp_logit_scale,
    export,
    load_model,
    pack_texts,
)
from robustclap.training.run_stats import train_stats


class NonFiniteError(RobustclapError):
    """The loss or the gradient became NaN/inf; the run stopped without updating the model."""


def warmup_cosine(warmup: int, total: int, min_ratio: float):
    """LR multiplier for optimiser step s (0-based): linear warmup, then cosine to min_ratio."""

    def factor(s: int) -> float:
        if s < warmup:
            return (s + 1) / warmup
        progress = min(1.0, (s - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def param_groups(model: nn.Module, weight_decay: float, lr: float | None = None,
                 pretrained_lr_scale: float = 1.0) -> list[dict[str, Any]]:
    """No weight decay on biases, norms and the logit scale (the open_clip rule). A model
    that names its pretrained parameters (the two-tower kind, whose heads are new) gets them
    in groups of their own at lr * pretrained_lr_scale."""
    pretrained = (model.pretrained_parameters() if hasattr(model, "pretrained_parameters")
                  and pretrained_lr_scale != 1.0 else set())
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            no_decay = p.ndim < 2 or "logit_scale" in name
            groups.setdefault((name in pretrained, no_decay), []).append(p)
    out = []
    for (pre, no_decay), params in sorted(groups.items()):
        group = {"params": params, "weight_decay": 0.0 if no_decay else weight_decay}
        if pre:
            if lr is None:
                raise ValueError("param_groups: pretrained_lr_scale needs lr")
            group["lr"] = lr * pretrained_lr_scale
        out.append(group)
    return out


def adamw(groups: list[dict[str, Any]], lr: float, betas: tuple[float, float] = (0.9, 0.999),
          eps: float = 1e-8) -> torch.optim.AdamW:
    """AdamW with torch's fused kernel where it has one for the parameters' device: the
    default on CPU is a per-tensor loop, 3-4x slower (0.45 vs 0.13 s a step for a
    150M-parameter CLAP); the update is the same up to float rounding."""
    devices = {p.device.type for g in groups for p in g["params"]}
    fused = devices <= {"cpu", "cuda"} and bool(devices)
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, fused=fused or None)


def encode_batch(net: nn.Module, tokenizer: Any, batch: Batch, levels: list[int],
                 max_len: int, device: torch.device):
    """One audio forward over the batch's distinct clips, one text forward over all views
    (packed several to a row: fewer padded tokens, same features).

    Returns per-example audio and caption features, the views {level: (features, present)}
    and the logit scale.
    """
    texts, spans = list(batch.captions), {}
    for level in levels:
        views = batch.p1 if level == 1 else batch.p2
        present = [v is not None for v in views]
        spans[level] = (len(texts), present)
        texts.extend(v for v in views if v is not None)
    packed = pack_texts(tokenizer, texts, max_len, device)
    audio_u, text, scale = net(batch.input_features.to(device, non_blocking=True),
                               batch.is_longer.to(device), *packed)
    audio_u, text = audio_u.float(), text.float()
    b = len(batch.captions)
    audio = audio_u[batch.audio_index.to(device)]
    views = {}
    for level, (start, present) in spans.items():
        mask = torch.tensor(present, device=device)
        feats = text.new_zeros((b, text.shape[1]))
        feats[mask] = text[start:start + int(mask.sum())]
        views[level] = (feats, mask)
    return audio, text[:b], views, scale.float()


def train(cfg: TrainConfig, resume: bool = False, stop_after: int | None = None
          ) -> StageStats:
    """Run (or continue) training; returns its StageStats (the summary written to
    OUT/summary.json, and the losses)."""
    info, device = dist.setup(cfg.device)
    try:
        summary = _train(cfg, info, device, resume, stop_after)
        dist.barrier()  # no rank leaves while another still exports or writes
        return train_stats(summary)
    finally:
        dist.teardown()


@dataclass
class Run:
    """Everything one run holds between set-up and export: what a step reads and updates."""

    cfg: TrainConfig
    info: dist.Dist
    device: torch.device
    bf16: bool
    autocast: Any  # torch.autocast on GPU, a no-op context on CPU
    bundle: Any  # the CLAP model, its tokenizer and audio front end (model.load_model)
    net: nn.Module  # the dual encoder, wrapped in DDP on several processes
    trainable: int
    view: Any  # the guarded training view (data.build_training_view)
    order: EpochBatches
    loss_fn: MultiViewClipLoss
    levels: list[int]  # paraphrase levels with a weight > 0
    max_steps: int
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    stream: BatchStream
    step: int = 0
    resumed_from: int | None = None
    last_checkpoint: Path | None = None

    @property
    def out(self) -> Path:
        return self.cfg.out_dir

    @property
    def ckpt_dir(self) -> Path:
        return self.cfg.out_dir / layout.CHECKPOINTS_DIR


def _train(cfg: TrainConfig, info: dist.Dist, device: torch.device, resume: bool,
           stop_after: int | None) -> dict[str, Any]:
    run = _setup(cfg, info, device, resume)
    log = MetricsLog(run.out, resume_step=run.step, enabled=info.is_main)
    progress = _progress(cfg.progress and info.is_main, run.step, run.max_steps)
    losses: list[float] = []
    started, start_step = time.perf_counter(), run.step
    try:
        while run.step < run.max_steps:
            sums, grad_norm, batch = _train_step(run)
            run.step += 1
            losses.append(sums["loss"])
            rate = (run.step - start_step) / max(time.perf_counter() - started, 1e-9)
            if run.step % cfg.log_every == 0 or run.step == run.max_steps:
                log.write(_metrics(run, sums, grad_norm, batch, rate))
            if progress is not None:
                progress.update(0, completed=run.step, loss=f"{sums['loss']:.4f}",
                                rate=f"{rate:.2f}")
            stopping = stop_after is not None and run.step >= stop_after
            if run.step % cfg.checkpoint_every == 0 or run.step == run.max_steps or stopping:
                run.last_checkpoint = _save_checkpoint(run)
            if stopping:
                break
    finally:
        log.close()
        if progress is not None:
            progress.stop()
    return _finish(run, losses, time.perf_counter() - started, start_step)


# ---- set-up: output folder, precision, model, data, optimiser, resume (in this order: the
# seed is set before the model load, so LoRA's initialisation is seeded too)

def _setup(cfg: TrainConfig, info: dist.Dist, device: torch.device, resume: bool) -> Run:
    found = _existing_checkpoint(cfg, resume)
    bf16, autocast = _precision(cfg, device)
    torch.manual_seed(cfg.seed + info.rank)
    if info.is_main:
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
        (cfg.out_dir / layout.TRAIN_CONFIG_FILE).write_text(
            yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    bundle, net, trainable = _build_model(cfg, info, device)
    view, dataset, order = _build_data(cfg, info, bundle)
    max_steps = cfg.max_steps or max(1, math.ceil(cfg.epochs * len(order) / cfg.optim.grad_accum))
    levels = [k for k, lam in ((1, cfg.loss.lambda_p1), (2, cfg.loss.lambda_p2)) if lam > 0]
    loss_fn = MultiViewClipLoss({1: cfg.loss.lambda_p1, 2: cfg.loss.lambda_p2},
                                tuple(cfg.loss.pairs), info.rank, info.world_size)
    o = cfg.optim
    optimizer = adamw(param_groups(bundle.model, o.weight_decay, o.lr, o.pretrained_lr_scale),
                      o.lr, o.betas, o.eps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(o.warmup_steps, max_steps, o.min_lr_ratio))
    step, epoch, next_batch = 0, 0, 0
    if found is not None:
        step, epoch, next_batch = _resume(found, cfg, info, bundle, optimizer, scheduler)
    stream = BatchStream(dataset, order, cfg.data.num_workers, epoch, next_batch,
                         pin_memory=device.type == "cuda")
    return Run(cfg=cfg, info=info, device=device, bf16=bf16, autocast=autocast, bundle=bundle,
               net=net, trainable=trainable, view=view, order=order, loss_fn=loss_fn,
               levels=levels, max_steps=max_steps, optimizer=optimizer, scheduler=scheduler,
               stream=stream, step=step, resumed_from=step if found is not None else None,
               last_checkpoint=found)


def _existing_checkpoint(cfg: TrainConfig, resume: bool) -> Path | None:
    """The checkpoint to continue from; an error when out_dir holds a run and resume is off."""
    found = checkpoint.latest(cfg.out_dir / layout.CHECKPOINTS_DIR)
    if found is not None and not resume:
        raise RobustclapError(
            f"{cfg.out_dir} already holds a run (checkpoint {found.name}); pass --resume to "
            "continue it, or choose another out_dir"
        )
    return found


def _precision(cfg: TrainConfig, device: torch.device) -> tuple[bool, Any]:
    """bf16 autocast on GPU (auto or bf16), fp32 otherwise; bf16 asked for on CPU is an error."""
    bf16 = device.type == "cuda" and cfg.precision in ("auto", "bf16")
    if cfg.precision == "bf16" and device.type != "cuda":
        raise RobustclapError("precision: bf16 needs a GPU; use auto or fp32 on CPU")
    return bf16, (torch.autocast("cuda", dtype=torch.bfloat16) if bf16
                  else contextlib.nullcontext())


def _build_model(cfg: TrainConfig, info: dist.Dist, device: torch.device
                 ) -> tuple[Any, nn.Module, int]:
    """CLAP with one learnable logit scale, optional freezing and LoRA, DDP on several
    processes; returns (bundle, net, trainable parameter count). The two-tower kind is built
    from its packages (heads seeded by cfg.seed) or loaded from its export."""
    two = two_tower.is_two_tower(cfg.model)
    if two and cfg.lora is not None:
        raise RobustclapError("lora: not supported for the two-tower model (its text tower "
                              "is small enough to fine-tune; freeze.text_layers limits it)")
    spec = two_tower.TwoTowerSpec(cfg.freeze.audio, cfg.two_tower.projection_dim,
                                  cfg.two_tower.max_seconds)
    bundle = load_model(cfg.model, cfg.audio.truncation, cfg.audio.padding, spec, cfg.seed)
    if two:
        if bundle.model.spec.audio_frozen != cfg.freeze.audio:
            raise RobustclapError(
                f"{cfg.model} was trained with freeze.audio={bundle.model.spec.audio_frozen}; "
                f"the config says {cfg.freeze.audio}")
        two_tower.freeze_two_tower(bundle.model, cfg.freeze)
    else:
        apply_freezing(bundle.model, cfg.freeze)
    if cfg.lora is not None:
        bundle.model = apply_lora(bundle.model, cfg.lora, cfg.freeze)
    # the two-tower model keeps its own frozen parts in eval mode (and its heads train)
    net: nn.Module = DualEncoder(bundle.model, cfg.freeze.audio and not two).to(device).train()
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    if trainable == 0:
        raise RobustclapError("the configuration freezes every parameter: nothing to train")
    if info.world_size > 1:
        net = nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)
    return bundle, net, trainable


def _build_data(cfg: TrainConfig, info: dist.Dist, bundle: Any
                ) -> tuple[Any, ExampleDataset, EpochBatches]:
    """The guarded training view (skipped clips written out), its dataset, seeded batches."""
    view = build_training_view(
        read_captions(cfg.data.captions), read_corpus(cfg.data.corpus), cfg.data.audio_dir,
        cfg.data.train_splits, bundle.frontend.sampling_rate, cfg.data.silence_peak)
    if info.is_main:
        view.skipped.write_csv(cfg.out_dir / layout.SKIPPED_AUDIO_FILE)
    dataset = ExampleDataset(view, bundle.frontend, cfg.seed, cfg.data.paraphrase_sampling,
                             cfg.data.silence_peak, cfg.data.cache_features)
    order = EpochBatches(len(dataset), cfg.batch_size, cfg.seed, info.rank, info.world_size)
    return view, dataset, order


def _resume(found: Path, cfg: TrainConfig, info: dist.Dist, bundle: Any,
            optimizer: torch.optim.Optimizer, scheduler: Any) -> tuple[int, int, int]:
    """Load everything that decides what comes next; returns (step, epoch, next batch)."""
    state, rng = checkpoint.load(found, info)
    if state["fingerprint"] != resume_fingerprint(cfg):
        raise RobustclapError(
            f"{found} was written with a different configuration; only "
            "checkpoint_every, keep_checkpoints, log_every, progress, device and "
            "data.num_workers may change on resume"
        )
    if state["world_size"] != info.world_size:
        raise RobustclapError(f"{found} was written by {state['world_size']} processes; "
                              f"resume with the same number (now {info.world_size})")
    bundle.model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    checkpoint.set_rng_state(rng)
    epoch, next_batch = state["position"]
    return state["step"], epoch, next_batch


# ---- one optimiser step

def _train_step(run: Run) -> tuple[dict[str, float], float, Batch]:
    """grad_accum micro-batches forward and backward, then clip and update; returns the
    step's mean loss parts, the gradient norm and the last batch. A non-finite loss or
    gradient stops before the optimiser step."""
    run.net.train()
    accum = run.cfg.optim.grad_accum
    sums: dict[str, float] = {}
    for micro in range(accum):
        batch = run.stream.next()
        # DDP averages gradients only on the last micro-batch of the step
        sync = micro == accum - 1 or run.info.world_size == 1
        with contextlib.nullcontext() if sync else run.net.no_sync():
            with run.autocast:  # the towers in bf16 on GPU; the loss in fp32
                audio, caption, views, scale = encode_batch(
                    run.net, run.bundle.tokenizer, batch, run.levels, run.cfg.max_text_len,
                    run.device)
            parts = run.loss_fn(audio, caption, batch.clip_keys.to(run.device), scale, views)
            if not torch.isfinite(parts["loss"]):
                raise NonFiniteError(_where(parts["loss"].item(), "loss", run.step, batch,
                                            run.last_checkpoint))
            (parts["loss"] / accum).backward()
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v.item() / accum
    params = [p for p in run.net.parameters() if p.requires_grad]
    max_norm = run.cfg.optim.clip_grad_norm or float("inf")
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    if not math.isfinite(grad_norm):
        raise NonFiniteError(_where(grad_norm, "gradient norm", run.step, batch,
                                    run.last_checkpoint))
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    clamp_logit_scale(run.bundle.model)
    return sums, grad_norm, batch


# ---- logging, checkpoints, export

def _metrics(run: Run, sums: dict[str, float], grad_norm: float, batch: Batch,
             rate: float) -> dict[str, Any]:
    """One row of metrics.jsonl / metrics.csv."""
    return {"step": run.step, "epoch": batch.epoch, "batch": batch.batch,
            **{k: round(v, 6) for k, v in sums.items() if k != "loss"},
            "loss": round(sums["loss"], 6), "lr": run.scheduler.get_last_lr()[0],
            "logit_scale": float(run.bundle.model.logit_scale_a.detach().exp()),
            "grad_norm": grad_norm, "steps_per_s": round(rate, 4)}


def _save_checkpoint(run: Run) -> Path:
    return checkpoint.save(run.ckpt_dir, run.step, {
        "step": run.step, "position": list(run.stream.position()),
        "model": run.bundle.model.state_dict(), "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(), "world_size": run.info.world_size,
        "fingerprint": resume_fingerprint(run.cfg),
    }, run.info, run.cfg.keep_checkpoints)


def _finish(run: Run, losses: list[float], elapsed: float, start_step: int) -> dict[str, Any]:
    """Export the model when the run is complete, write and return the summary."""
    step, max_steps = run.step, run.max_steps
    summary = {
        "steps": step, "max_steps": max_steps, "finished": step >= max_steps,
        "resumed_from_step": run.resumed_from, "position": list(run.stream.position()),
        "batches_per_epoch": len(run.order), "world_size": run.info.world_size,
        "device": str(run.device), "precision": "bf16" if run.bf16 else "fp32",
        "trainable_params": run.trainable, "data": run.view.stats,
        "skipped_clips": run.view.skipped.counts(), "seconds": round(elapsed, 2),
        "steps_per_s": round((step - start_step) / max(elapsed, 1e-9), 4),
        "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
    }
    if run.info.is_main:
        if step >= max_steps:
            summary["model_dir"] = str(export(run.bundle, run.out / layout.MODEL_DIR))
        (run.out / layout.TRAIN_SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    summary["losses"] = losses
    return summary


def _where(value: float, what: str, step: int, batch: Batch, found: Path | None) -> str:
    clips = ", ".join(batch.clip_ids[:5]) + (" ..." if len(batch.clip_ids) > 5 else "")
    return (f"non-finite {what} ({value}) at step {step + 1} (epoch {batch.epoch}, batch "
            f"{batch.batch}; clips {clips}); stopped before the optimiser step. "
            f"Last checkpoint: {found or 'none written yet'}")


def _progress(enabled: bool, step: int, total: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("step {task.completed}/{task.total}"), BarColumn(),
        TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]} steps/s"),
        TextColumn("ETA"), TimeRemainingColumn(),
    )
    bar.add_task("train", total=total, completed=step, loss="-", rate="-")
    bar.start()
    return bar


def main(argv: list[str] | None = None) -> None:
    """Entry point for torchrun: `torchrun ... -m robustclap.training.train CONFIG [--resume]`."""
    args = list(sys.argv[1:] if argv is None else argv)
    resume = "--resume" in args
    paths = [a for a in args if a != "--resume"]
    if len(paths) != 1:
        raise SystemExit("usage: python -m robustclap.training.train CONFIG.yaml [--resume]")
    try:
        train(load_config(paths[0]), resume=resume)
    except RobustclapError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
