"""The two-tower CLAP (issue 24): packaged pretrained encoders (aisfx audio CNN, MiniLM text
tower) trained, checkpointed, resumed, exported and evaluated through the same code paths as a
transformers ClapModel. The training tests use a few real ESC-50 clips (skipped without
../shared/data); the rest needs only the installed packages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import CAPTIONS, CORPUS, read_table, write_table
from robustclap.training import aisfx
from robustclap.training.config import parse_config
from robustclap.training.model import DualEncoder, load_model, pack_texts, tokenize
from robustclap.training.train import train
from robustclap.training.two_tower import DEFAULT_REF, TwoTowerSpec, build_two_tower

TEXTS = ["A dog barks twice.", "Rain falls while a cat meows three times, then a knock.",
         "hi", "Someone laughs, followed by a horse neighing."]


@pytest.fixture(scope="module")
def bundle():
    return build_two_tower(TwoTowerSpec(audio_frozen=False, projection_dim=32), seed=0)


def test_packaged_checkpoint_loads_with_weights_only_into_the_cnn() -> None:
    net = aisfx.load_encoder()
    fresh = aisfx.new_encoder()
    w = net.conv_block1.conv1.weight
    assert w.shape == (64, 1, 3, 3) and not torch.equal(w, fresh.conv_block1.conv1.weight)
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(4.69e6, rel=0.01)
    assert net.conv_block4.bn2.running_var.abs().sum() > 0  # trained statistics, not init


def test_log_mel_matches_the_package_layout() -> None:
    sr = aisfx.SAMPLE_RATE
    t = np.arange(5 * sr) / sr
    mel = aisfx.log_mel((0.1 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    assert mel.shape == (5 * sr // aisfx.HOP + 1, aisfx.N_MELS)  # frames first, 96 bands
    # peak-normalised: the level of the input does not matter
    loud = aisfx.log_mel((0.9 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    np.testing.assert_allclose(mel, loud, atol=1e-4)
    # a 1 kHz tone lands in the HTK band around 1 kHz; the scale stays near [0, 1]
    band = int(np.argmax(mel[50]))
    hz = 700 * (10 ** (np.linspace(0, 2595 * np.log10(1 + 22050 / 700), 98)[band + 1] / 2595) - 1)
    assert 850 < hz < 1200, hz
    assert 0.5 < mel.max() < 1.2 and mel.min() >= 0


def test_packed_text_pass_equals_padded_pass_and_sentence_transformers(bundle) -> None:
    from sentence_transformers import SentenceTransformer

    from robustclap.training.two_tower import minilm_folder

    model, dev = bundle.model.eval(), torch.device("cpu")
    with torch.no_grad():
        padded = model.get_text_features(**tokenize(bundle.tokenizer, TEXTS, 77, dev))
        packed = model.packed_text_features(*pack_texts(bundle.tokenizer, TEXTS, 77, dev))
        enc = tokenize(bundle.tokenizer, TEXTS, 77, dev)
        hidden = model.text_model(**enc).last_hidden_state
    torch.testing.assert_close(packed, padded.pooler_output, atol=1e-5, rtol=1e-4)
    m = enc["attention_mask"].unsqueeze(-1).float()
    pooled = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), dim=-1)
    ref = SentenceTransformer(str(minilm_folder()), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(pooled.numpy(), ref, atol=1e-5)  # the pretrained tower as is


def test_last_block_mode_trains_only_block_4_and_keeps_frozen_blocks_in_eval(bundle) -> None:
    model = bundle.model
    trainable = {n.split(".")[1] for n, p in model.named_parameters()
                 if p.requires_grad and n.startswith("audio_model.")}
    assert trainable == {"conv_block4"}
    net = DualEncoder(model).train()
    assert model.audio_model.conv_block4.training and not model.audio_model.conv_block1.training
    mel = torch.from_numpy(np.stack([bundle.frontend.features(
        np.random.default_rng(i).normal(0, 0.1, 44100 * 2).astype(np.float32),
        np.random.default_rng(0))[0] for i in range(2)]))
    assert mel.shape == (2, bundle.frontend.frames, 96)
    packed = pack_texts(bundle.tokenizer, TEXTS[:2], 77, torch.device("cpu"))
    audio, text, scale = net(mel, torch.zeros((2, 1), dtype=torch.bool), *packed)
    (audio @ text.T * scale).logsumexp(1).sum().backward()
    assert model.audio_model.conv_block4.conv1.weight.grad is not None
    assert model.audio_model.conv_block1.conv1.weight.grad is None
    model.zero_grad(set_to_none=True)


def test_unknown_two_tower_reference_is_one_message() -> None:
    with pytest.raises(RobustclapError, match="unknown two-tower model"):
        load_model("two-tower:panns+bert")


# ---- real training on a few shared ESC-50 clips

def _tables(esc50_dir, esc50_tables, out):
    meta = esc50_tables.read_meta(esc50_dir)
    keep = sorted({r["category"] for r in meta})[:4]
    caps, corpus = esc50_tables.build_rows([r for r in meta if r["category"] in keep], 2)
    write_table(CAPTIONS, caps, out / "captions.parquet")
    write_table(CORPUS, corpus, out / "corpus" / "accepted.parquet")
    return out / "captions.parquet", out / "corpus"


def _config(esc50_dir, caps, corpus, out, **over):
    raw = {"model": DEFAULT_REF, "out_dir": str(out), "progress": False, "log_every": 1,
           "data": {"audio_dir": str(esc50_dir / "audio"), "captions": str(caps),
                    "corpus": str(corpus), "cache_features": True},
           "freeze": {"audio": True}, "two_tower": {"projection_dim": 64},
           "optim": {"lr": 1e-3, "warmup_steps": 0, "pretrained_lr_scale": 0.05},
           "batch_size": 4, "max_steps": 4, "checkpoint_every": 2, "seed": 3}
    raw.update(over)
    return parse_config(raw)


def test_two_tower_trains_resumes_exports_and_evaluates_on_real_clips(
        esc50_dir, esc50_tables, tmp_path):
    from robustclap.training.evaluate import evaluate_model

    caps, corpus = _tables(esc50_dir, esc50_tables, tmp_path / "t")
    ref = train(_config(esc50_dir, caps, corpus, tmp_path / "ref"))
    assert ref.counts["steps"] == 4 and ref.extra["data"]["clips"] == 8
    assert all(np.isfinite(ref.extra["losses"]))

    cfg = _config(esc50_dir, caps, corpus, tmp_path / "run")
    first = train(cfg, stop_after=2)
    assert first.status == "incomplete" and "model_dir" not in first.extra
    rest = train(cfg, resume=True)
    assert rest.counts["resumed_from_step"] == 2
    assert first.extra["losses"] + rest.extra["losses"] == ref.extra["losses"]  # exact on CPU

    model_dir = tmp_path / "run" / "model"
    assert (model_dir / "two_tower.json").is_file()
    back = load_model(model_dir)
    trained = torch.load(tmp_path / "run" / "checkpoints" / "step_00000004" / "state.pt",
                         weights_only=True)["model"]
    for name, tensor in back.model.state_dict().items():
        torch.testing.assert_close(tensor, trained[name], rtol=0, atol=0, msg=name)
    # the heads moved, the frozen CNN did not
    fresh = build_two_tower(TwoTowerSpec(projection_dim=64), seed=3).model.state_dict()
    assert not torch.equal(trained["text_projection.0.weight"], fresh["text_projection.0.weight"])
    assert torch.equal(trained["audio_model.conv_block4.conv2.weight"],
                       fresh["audio_model.conv_block4.conv2.weight"])

    clips = {str(c) for c in read_table(CAPTIONS, caps).to_pandas()["clip_id"]}
    meta = pd.read_csv(esc50_dir / "meta.csv")
    meta[meta["filename"].map(lambda f: f.rsplit(".", 1)[0] in clips)].to_csv(
        tmp_path / "meta.csv", index=False)
    result = evaluate_model(str(model_dir), esc50_dir / "audio", caps, corpus, split="all",
                            zero_shot_meta=tmp_path / "meta.csv",
                            zero_shot_audio=esc50_dir / "audio")
    orig = result["retrieval"]["original"]["t2a"]
    assert result["clips"] == 8 and set(orig) == {"R@1", "R@5", "R@10", "mAP@10"}
    assert orig["R@10"] == 1.0  # 8 clips: every clip is within the top 10
    assert "level1" in result["drop"] and result["zero_shot"]["classes"] == 4
    assert 0.0 <= result["zero_shot"]["top1"] <= 1.0


def test_config_mismatch_and_lora_are_refused(esc50_dir, esc50_tables, tmp_path):
    caps, corpus = _tables(esc50_dir, esc50_tables, tmp_path / "t")
    with pytest.raises(RobustclapError, match="lora: not supported"):
        train(_config(esc50_dir, caps, corpus, tmp_path / "a", lora={"r": 4}))
