"""A few real training steps on CPU with the tiny CLAP: loss goes down, exact resume, guards."""

from __future__ import annotations

import csv
import json

import pytest
import torch

import robustclap.training.train as train_module
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import CAPTIONS, CORPUS, write_table
from robustclap.training.config import parse_config
from robustclap.training.splits import SplitLeakError
from robustclap.training.train import NonFiniteError, train


def esc50_subset(esc50_dir, esc50_tables, out, categories: int, per_class: int):
    """Tables for the first `per_class` clips of the first `categories` ESC-50 classes."""
    meta = esc50_tables.read_meta(esc50_dir)
    keep = sorted({r["category"] for r in meta})[:categories]
    caps, corpus = esc50_tables.build_rows([r for r in meta if r["category"] in keep],
                                           per_class)
    write_table(CAPTIONS, caps, out / "captions.parquet")
    write_table(CORPUS, corpus, out / "corpus" / "accepted.parquet")
    return out / "captions.parquet", out / "corpus"


def config(model, audio_dir, captions, corpus, out_dir, **over):
    raw = {"model": str(model), "out_dir": str(out_dir), "progress": False, "log_every": 1,
           "data": {"audio_dir": str(audio_dir), "captions": str(captions),
                    "corpus": str(corpus) if corpus else None, "cache_features": True},
           "optim": {"lr": 2e-3, "warmup_steps": 0}, "batch_size": 8, "max_steps": 4}
    for key, value in over.items():
        if isinstance(value, dict):
            raw[key] = {**raw.get(key, {}), **value}
        else:
            raw[key] = value
    return parse_config(raw)


def test_loss_goes_down_on_real_esc50(esc50_dir, esc50_tables, tiny_clap_dir, tmp_path):
    caps, corpus = esc50_subset(esc50_dir, esc50_tables, tmp_path / "t", 8, 1)
    cfg = config(tiny_clap_dir, esc50_dir / "audio", caps, corpus, tmp_path / "run",
                 max_steps=12, checkpoint_every=100)
    summary = train(cfg)
    losses = summary.extra["losses"]
    assert summary.extra["data"]["clips"] == 8 and summary.counts["steps"] == 12
    assert summary.stage == "train" and summary.status == "complete"
    assert summary.rows_out == summary.extra["data"]["captions"] and summary.wall_s > 0
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3, losses
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    assert float(rows[0]["p1"]) > 0 and float(rows[0]["p2_caption"]) > 0
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    assert any((tmp_path / "run" / "tensorboard").iterdir())


def test_kill_and_resume_gives_the_same_losses(esc50_dir, esc50_tables, tiny_clap_dir,
                                               tmp_path, monkeypatch):
    caps, corpus = esc50_subset(esc50_dir, esc50_tables, tmp_path / "t", 6, 2)
    # 12 examples, batches of 4: 3 per epoch, so steps 4-6 are in the second epoch
    common = dict(batch_size=4, max_steps=6, checkpoint_every=2,
                  data={"num_workers": 1}, optim={"lr": 2e-3, "warmup_steps": 2})
    ref = train(config(tiny_clap_dir, esc50_dir / "audio", caps, corpus, tmp_path / "ref",
                       **common)).extra["losses"]

    real_clamp, calls = train_module.clamp_logit_scale, []

    def dies_at_step_5(model):
        calls.append(1)
        if len(calls) == 5:  # after the step-4 checkpoint, before the next one
            raise KeyboardInterrupt("killed")
        real_clamp(model)

    monkeypatch.setattr(train_module, "clamp_logit_scale", dies_at_step_5)
    cfg = config(tiny_clap_dir, esc50_dir / "audio", caps, corpus, tmp_path / "run", **common)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(train_module, "clamp_logit_scale", real_clamp)
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text() == "step_00000004"

    with pytest.raises(RobustclapError, match="--resume"):
        train(cfg)  # refuses to overwrite a run
    resumed = train(cfg, resume=True)
    assert resumed.counts["resumed_from_step"] == 4
    assert resumed.extra["losses"] == ref[4:]  # bit-identical on CPU
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]


def test_stop_after_then_resume_matches(generated_audio, generated_tables, tiny_clap_dir,
                                        tmp_path):
    caps, corpus = generated_tables
    common = dict(batch_size=4, max_steps=3, checkpoint_every=10, data={"num_workers": 0})
    ref = train(config(tiny_clap_dir, generated_audio, caps, corpus, tmp_path / "ref",
                       **common)).extra["losses"]
    cfg = config(tiny_clap_dir, generated_audio, caps, corpus, tmp_path / "run", **common)
    first = train(cfg, stop_after=2)
    assert first.counts["steps"] == 2 and first.status == "incomplete"
    assert not first.extra["finished"] and "model_dir" not in first.extra
    rest = train(cfg, resume=True)
    assert first.extra["losses"] + rest.extra["losses"] == ref


def test_leaking_configuration_is_refused(generated_audio, tiny_clap_dir, tmp_path, rows):
    caps = rows.captions({f"clip{i:02d}": f"tone {i}" for i in range(6)},
                         {"clip05": "test"})
    corpus = rows.corpus(caps, {("clip00", 1): ["tone zero"], ("clip05", 1): ["tone five"]})
    corpus[-1]["caption_id"] = "c-clip00"  # test clip's paraphrase filed under a train caption
    corpus[-1]["split"] = "train"
    write_table(CAPTIONS, caps, tmp_path / "caps.parquet")
    write_table(CORPUS, corpus, tmp_path / "corpus.parquet")
    cfg = config(tiny_clap_dir, generated_audio, tmp_path / "caps.parquet",
                 tmp_path / "corpus.parquet", tmp_path / "run", batch_size=2)
    with pytest.raises(SplitLeakError, match="clip05"):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_nan_stops_cleanly_naming_step_and_batch(generated_audio, generated_tables, tmp_path):
    from robustclap.training.tiny import build_tiny_clap

    bundle = build_tiny_clap()
    with torch.no_grad():
        bundle.model.text_projection.linear1.weight.fill_(float("nan"))
    bundle.model.save_pretrained(tmp_path / "nan")
    bundle.frontend.extractor.save_pretrained(tmp_path / "nan")
    bundle.tokenizer.save_pretrained(tmp_path / "nan")
    caps, corpus = generated_tables
    cfg = config(tmp_path / "nan", generated_audio, caps, corpus, tmp_path / "run",
                 batch_size=4)
    with pytest.raises(NonFiniteError, match=r"non-finite loss \(nan\) at step 1 "
                                             r"\(epoch 0, batch 0; clips clip"):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_lora_with_frozen_audio_tower_trains_and_exports(generated_audio, generated_tables,
                                                         tiny_clap_dir, tmp_path):
    from transformers import ClapModel

    caps, corpus = generated_tables
    cfg = config(tiny_clap_dir, generated_audio, caps, corpus, tmp_path / "run",
                 batch_size=4, max_steps=2, freeze={"audio": True},
                 lora={"r": 2, "alpha": 4, "towers": ["text"]},
                 loss={"lambda_p1": 1.0, "lambda_p2": 0.5, "pairs": ["audio"]})
    summary = train(cfg)
    assert summary.extra["skipped_clips"] == {"empty": 1, "missing": 1, "silent": 1,
                                              "unreadable": 1}
    assert summary.rejected == summary.extra["data"]["captions_skipped"]
    before = ClapModel.from_pretrained(tiny_clap_dir)
    after = ClapModel.from_pretrained(summary.extra["model_dir"])
    assert not any("lora" in k for k in after.state_dict())
    b, a = before.state_dict(), after.state_dict()
    assert all(torch.equal(b[k], a[k]) for k in b if k.startswith("audio_model."))
    assert not torch.equal(b["text_model.encoder.layer.0.attention.self.query.weight"],
                           a["text_model.encoder.layer.0.attention.self.query.weight"])
    assert torch.equal(after.logit_scale_t, after.logit_scale_a)
    assert (tmp_path / "run" / "skipped_audio.csv").read_text().count("\n") == 5


def test_one_audio_pass_per_clip_and_one_text_pass_for_all_views(tiny_clap_dir):
    import numpy as np

    from robustclap.training.loader import collate
    from robustclap.training.model import DualEncoder, load_clap
    from robustclap.training.train import encode_batch

    bundle = load_clap(tiny_clap_dir)
    calls = {"audio": [], "text": []}
    bundle.model.audio_model.register_forward_hook(
        lambda m, args, kwargs, out: calls["audio"].append(kwargs["input_features"].shape[0]),
        with_kwargs=True)
    bundle.model.text_model.register_forward_hook(
        lambda m, args, kwargs, out: calls["text"].append(kwargs["input_ids"].shape[0]),
        with_kwargs=True)
    mel = np.zeros((1, 1001, 64), dtype=np.float32)

    def item(clip, key, p1, p2):
        return {"epoch": 0, "batch": 0, "index": key, "clip_id": clip, "clip_key": key,
                "caption_id": f"c{key}", "mel": mel + key, "is_longer": False,
                "caption": f"caption {key}", "p1": p1, "p2": p2}

    # three captions, two of the same clip; two level-1 views, one level-2 view
    batch = collate([item("a", 0, "x", None), item("b", 1, None, "y"), item("a", 0, "z", None)])
    audio, caption, views, _ = encode_batch(DualEncoder(bundle.model), bundle.tokenizer, batch,
                                            [1, 2], 77, torch.device("cpu"))
    # six texts (3 captions, 2 + 1 paraphrases) packed into rows of one text pass
    assert calls["audio"] == [2] and len(calls["text"]) == 1 and calls["text"][0] < 6
    assert torch.equal(audio[0], audio[2]) and not torch.equal(audio[0], audio[1])
    assert views[1][1].tolist() == [True, False, True]
    assert views[2][1].tolist() == [False, True, False]
    assert caption.shape == (3, 32) and views[2][0][0].abs().sum() == 0


def test_packed_text_pass_gives_the_features_and_gradients_of_a_padded_pass(tiny_clap_dir):
    """Packing only removes padding: every text keeps its features, its place and its
    gradient."""
    from robustclap.training.model import DualEncoder, load_clap, pack_texts, tokenize

    bundle = load_clap(tiny_clap_dir)
    net = DualEncoder(bundle.model).eval()  # no dropout: both passes must agree
    texts = ["a dog", "a dog barks far away while birds sing in the trees", "rain",
             "someone hears a kettle whistle", "waves", "a car horn honks twice on a street"]
    cpu = torch.device("cpu")
    packed = pack_texts(bundle.tokenizer, texts, 77, cpu)
    padded = tokenize(bundle.tokenizer, texts, 77, cpu)
    assert packed.input_ids.numel() < padded["input_ids"].numel()
    assert sorted(packed.segment[packed.segment >= 0].unique().tolist()) == list(range(6))
    weights = torch.randn(6, bundle.model.config.projection_dim)

    def features_and_grads(encode) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        net.zero_grad(set_to_none=True)
        feats = encode()
        (feats * weights).sum().backward()
        return feats.detach(), {n: p.grad for n, p in net.named_parameters()
                                if p.grad is not None}

    feats_a, grads_a = features_and_grads(lambda: net.text_features(*packed))
    feats_b, grads_b = features_and_grads(
        lambda: bundle.model.get_text_features(**padded).pooler_output)
    torch.testing.assert_close(feats_a, feats_b)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], msg=name)
