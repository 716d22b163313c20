"""Two DDP processes on CPU (gloo) through torchrun: the multi-GPU code path, minus the GPUs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml


def test_torchrun_two_processes_with_accumulation(tiny_clap_dir, generated_audio,
                                                  generated_tables, tmp_path):
    caps, corpus = generated_tables
    cfg = {"model": str(tiny_clap_dir), "out_dir": str(tmp_path / "run"), "device": "cpu",
           "progress": False, "log_every": 1, "batch_size": 2, "max_steps": 2,
           "checkpoint_every": 1, "optim": {"lr": 1e-3, "warmup_steps": 0, "grad_accum": 2},
           "data": {"audio_dir": str(generated_audio), "captions": str(caps),
                    "corpus": str(corpus), "cache_features": True}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--standalone", "-m", "robustclap.training.train", str(tmp_path / "c.yaml")],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    # 10 examples, global batch 2 x 2 processes: 2 batches per epoch, 2 per optimiser step
    assert summary["world_size"] == 2 and summary["batches_per_epoch"] == 2
    assert summary["steps"] == 2 and summary["position"] == [1, 2]  # epoch 1 fully used
    step = tmp_path / "run" / "checkpoints" / "step_00000002"
    assert {p.name for p in step.iterdir()} == {"state.pt", "rng_rank0.pt", "rng_rank1.pt"}
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text()
            .splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["loss"] > 0 for r in rows)
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
