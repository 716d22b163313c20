"""The commands end to end through typer: tiny-clap, train, evaluate (with --compare)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def app():
    """The real `robustclap` app, which registers this stage's commands."""
    from robustclap.cli import app

    return app


def run(app, *args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_help_lists_the_flags(app):
    for cmd, flags in {"train": ["--config", "--resume", "--stop-after", "--max-steps"],
                       "evaluate": ["--model", "--audio", "--captions", "--corpus",
                                    "--zero-shot", "--compare", "--out", "--overwrite"],
                       "tiny-clap": ["FOLDER"]}.items():
        result = run(app, cmd, "--help")
        assert result.exit_code == 0
        for flag in flags:
            assert flag in result.output, (cmd, flag)


def test_bad_config_is_one_line_without_traceback(tmp_path):
    (tmp_path / "c.yaml").write_text("model: x\nout_dir: y\nbatch_size: 1\nmax_steps: 2\n")
    result = subprocess.run([sys.executable, "-m", "robustclap", "train", "--config",
                             str(tmp_path / "c.yaml")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "batch_size" in result.stderr and "data: Field required" in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_refuses_to_replace_its_output(app, tmp_path):
    out = tmp_path / "results.json"
    out.write_text("{}")
    args = ["evaluate", "--model", tmp_path / "none", "--audio", tmp_path,
            "--captions", tmp_path, "--out", out]
    result = run(app, *args)  # refused before any model or audio is read
    assert result.exit_code != 0
    assert f"--out {out} already exists; pass --overwrite" in str(result.exception)
    assert out.read_text() == "{}"


def test_tiny_clap_train_and_compare(app, tmp_path, generated_audio, generated_tables):
    caps, corpus = generated_tables
    assert run(app, "tiny-clap", tmp_path / "tiny").exit_code == 0
    cfg = {"model": str(tmp_path / "tiny"), "out_dir": str(tmp_path / "run"),
           "progress": False, "batch_size": 4, "max_steps": 50,
           "data": {"audio_dir": str(generated_audio), "captions": str(caps),
                    "corpus": str(corpus)}}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    result = run(app, "train", "--config", tmp_path / "train.yaml", "--max-steps", 2)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["stage"] == "train" and summary["counts"]["steps"] == 2
    assert summary["extra"]["skipped_clips"]["silent"] == 1 and "losses" not in summary["extra"]

    meta = pd.DataFrame({"filename": [f"clip{i:02d}.wav" for i in range(6)],
                         "category": ["low_tone"] * 3 + ["high_tone"] * 3})
    meta.to_csv(tmp_path / "meta.csv", index=False)
    result = run(app, "evaluate", "--model", tmp_path / "tiny", "--compare",
                 tmp_path / "run" / "model", "--audio", generated_audio, "--captions", caps,
                 "--corpus", corpus, "--split", "train", "--zero-shot", tmp_path / "meta.csv",
                 "--zero-shot-audio", generated_audio, "--out", tmp_path / "res.json")
    assert result.exit_code == 0, result.output
    for text in ("level-1", "level-2", "drop original→level-1", "zero-shot", "→"):
        assert text in result.output
    res = json.loads((tmp_path / "res.json").read_text())
    first, second = res["models"]
    assert first["clips"] == second["clips"] == 10
    assert first["retrieval"]["original"]["queries"] == 10
    assert first["retrieval"]["level2"]["queries"] == 5  # even-numbered clips only
    assert set(first["retrieval"]["level1"]["t2a"]) == {"R@1", "R@5", "R@10", "mAP@10"}
    drop = first["drop"]["level2"]
    base, level = drop["original_same_captions"]["t2a"], first["retrieval"]["level2"]["t2a"]
    assert drop["t2a"]["R@1"] == pytest.approx(base["R@1"] - level["R@1"])
    assert first["zero_shot"]["classes"] == 2 and first["zero_shot"]["clips"] == 6
    assert 0 <= first["zero_shot"]["top1"] <= 1


def test_evaluate_real_esc50(app, tmp_path, esc50_dir, esc50_tables, tiny_clap_dir):
    cap, corpus = esc50_tables.write_tables(esc50_dir, tmp_path / "tables", per_class=5)
    meta = pd.read_csv(esc50_dir / "meta.csv").head(20)
    meta.to_csv(tmp_path / "meta.csv", index=False)
    result = run(app, "evaluate", "--model", tiny_clap_dir, "--audio", esc50_dir / "audio",
                 "--captions", cap, "--corpus", corpus, "--zero-shot", tmp_path / "meta.csv",
                 "--zero-shot-audio", esc50_dir / "audio", "--out", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    res = json.loads((tmp_path / "r.json").read_text())
    # positions 4 of 0..4 per class are test: one clip per class, 50 classes
    assert res["clips"] == 50 and res["retrieval"]["level1"]["queries"] == 50
    assert res["zero_shot"]["clips"] == 20
