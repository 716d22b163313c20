"""The multi-view loss: baseline equality, same-clip masking, view terms, cross-rank gather."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from robustclap.training.loss import MultiViewClipLoss, info_nce


def unit(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g), dim=-1)


def laion_clip_loss(audio, text, logit_scale):
    """LAION-CLAP's ClipLoss (one process, no MLP head), written out as in its loss.py."""
    logits_per_audio = logit_scale * audio @ text.T
    logits_per_text = logit_scale * text @ audio.T
    labels = torch.arange(audio.shape[0])
    return (F.cross_entropy(logits_per_audio, labels)
            + F.cross_entropy(logits_per_text, labels)) / 2


def explicit_info_nce(x, y, clips, scale) -> float:
    """Row by row with Python floats: candidates are the positive and other clips' rows."""
    def one_way(a, b):
        total = 0.0
        for i in range(len(a)):
            cands = [j for j in range(len(b)) if j == i or clips[j] != clips[i]]
            logits = [scale * float(a[i] @ b[j]) for j in cands]
            total += -(scale * float(a[i] @ b[i])) + math.log(sum(math.exp(v) for v in logits))
        return total / len(a)
    return (one_way(x, y) + one_way(y, x)) / 2


def test_lambda_zero_is_exactly_the_clap_loss():
    audio, caption, p1 = unit(8, 16, seed=1), unit(8, 16, seed=2), unit(8, 16, seed=3)
    scale = torch.tensor(1 / 0.07)
    clips = torch.arange(8)
    present = torch.ones(8, dtype=torch.bool)
    out = MultiViewClipLoss({1: 0.0, 2: 0.0})(audio, caption, clips, scale,
                                               {1: (p1, present), 2: (p1, present)})
    assert torch.equal(out["loss"], laion_clip_loss(audio, caption, scale))
    assert set(out) == {"clap", "loss"}
    with_views = MultiViewClipLoss({1: 1.0, 2: 0.0})(audio, caption, clips, scale,
                                                     {1: (p1, present)})
    assert with_views["loss"] > out["loss"]


def test_same_clip_texts_are_not_negatives():
    # examples 0 and 1 are two captions of clip 7: same audio row twice
    audio = unit(4, 8, seed=4)
    audio[1] = audio[0]
    caption = unit(4, 8, seed=5)
    clips = torch.tensor([7, 7, 3, 9])
    scale = 10.0
    masked = info_nce(audio, caption, clips, torch.tensor(scale))
    assert masked.item() == pytest.approx(explicit_info_nce(audio, caption, clips, scale),
                                          rel=1e-5)
    # without the mask the duplicate audio would be a negative of its own caption
    unmasked = info_nce(audio, caption, torch.arange(4), torch.tensor(scale))
    assert unmasked.item() == pytest.approx(
        explicit_info_nce(audio, caption, [0, 1, 2, 3], scale), rel=1e-5)
    assert unmasked > masked


def test_view_terms_use_only_present_rows_and_both_pairs():
    audio, caption, p1 = unit(5, 8, seed=6), unit(5, 8, seed=7), unit(5, 8, seed=8)
    p1 = p1.clone().requires_grad_(True)
    clips = torch.tensor([0, 1, 2, 3, 4])
    present = torch.tensor([True, False, True, True, False])
    scale = torch.tensor(20.0)
    out = MultiViewClipLoss({1: 0.5, 2: 1.0})(audio, caption, clips, scale,
                                               {1: (p1, present)})
    keep = [0, 2, 3]
    exp_audio = explicit_info_nce(p1[keep].detach(), audio[keep], [0, 2, 3], 20.0)
    exp_caption = explicit_info_nce(p1[keep].detach(), caption[keep], [0, 2, 3], 20.0)
    clap = explicit_info_nce(audio, caption, list(range(5)), 20.0)
    assert out["p1_audio"].item() == pytest.approx(exp_audio, rel=1e-5)
    assert out["p1_caption"].item() == pytest.approx(exp_caption, rel=1e-5)
    assert out["loss"].item() == pytest.approx(clap + 0.5 * (exp_audio + exp_caption),
                                               rel=1e-5)
    assert "p2" not in out  # no level-2 views given
    out["loss"].backward()
    grad_norms = p1.grad.norm(dim=1)
    assert (grad_norms[present] > 0).all() and (grad_norms[~present] == 0).all()

    only_audio = MultiViewClipLoss({1: 1.0}, pairs=("audio",))(
        audio, caption, clips, scale, {1: (p1.detach(), present)})
    assert set(only_audio) == {"clap", "p1_audio", "p1", "loss"}


def test_view_of_another_caption_of_the_same_clip_is_not_a_negative():
    # examples 0 and 1 share a clip; their paraphrases must not push each other away
    audio, caption, p2 = unit(3, 8, seed=9), unit(3, 8, seed=10), unit(3, 8, seed=11)
    audio[1] = audio[0]
    clips = torch.tensor([5, 5, 6])
    present = torch.ones(3, dtype=torch.bool)
    out = MultiViewClipLoss({2: 1.0}, pairs=("caption",))(audio, caption, clips,
                                                          torch.tensor(10.0),
                                                          {2: (p2, present)})
    assert out["p2"].item() == pytest.approx(explicit_info_nce(p2, caption, [5, 5, 6], 10.0),
                                             rel=1e-5)


WORKER = textwrap.dedent("""
    import sys, torch, torch.distributed as dist
    from robustclap.training.loss import MultiViewClipLoss
    rank, store, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    full = torch.load(sys.argv[4], weights_only=True)
    sl = slice(rank * 3, rank * 3 + 3)
    audio = full["audio"][sl].clone().requires_grad_(True)
    caption = full["caption"][sl].clone().requires_grad_(True)
    p1 = full["p1"][sl].clone().requires_grad_(True)
    loss = MultiViewClipLoss({1: 0.7}, rank=rank, world_size=2)(
        audio, caption, full["clips"][sl], full["scale"], {1: (p1, full["present"][sl])})
    loss["loss"].backward()
    torch.save({"loss": loss["loss"].detach(), "audio": audio.grad, "caption": caption.grad,
                "p1": p1.grad}, out)
    dist.barrier()
    dist.destroy_process_group()
""")


def test_two_ranks_gather_with_gradients_equals_one_process(tmp_path):
    full = {"audio": unit(6, 8, seed=12), "caption": unit(6, 8, seed=13),
            "p1": unit(6, 8, seed=14), "clips": torch.tensor([0, 1, 2, 2, 4, 5]),
            "present": torch.tensor([True, True, False, True, True, False]),
            "scale": torch.tensor(12.0)}
    torch.save(full, tmp_path / "in.pt")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, str(script), str(r), str(tmp_path / "store"),
                               str(tmp_path / f"out{r}.pt"), str(tmp_path / "in.pt")],
                              env=env, stderr=subprocess.PIPE, text=True) for r in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err

    leaves = {k: full[k].clone().requires_grad_(True) for k in ("audio", "caption", "p1")}
    ref = MultiViewClipLoss({1: 0.7})(leaves["audio"], leaves["caption"], full["clips"],
                                      full["scale"], {1: (leaves["p1"], full["present"])})
    ref["loss"].backward()
    for r in range(2):
        got = torch.load(tmp_path / f"out{r}.pt", weights_only=True)
        torch.testing.assert_close(got["loss"], ref["loss"].detach())
        sl = slice(r * 3, r * 3 + 3)
        # every rank computes the full loss; all_gather's backward sums the ranks' gradients,
        # so each rank holds world_size x its share, and DDP's mean over ranks undoes that
        for k in ("audio", "caption", "p1"):
            torch.testing.assert_close(got[k], 2 * leaves[k].grad[sl])
