"""`robustclap publish` from stage folders, `export` to a Hub dataset folder, `push` offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robustclap.cli import app
from robustclap.contracts.errors import RobustclapError

from .stage_dirs import make_stage_dirs

runner = CliRunner()
ROBUSTCLAP = str(Path(sys.executable).parent / "robustclap")


@pytest.fixture(scope="module")
def version_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("stages")
    gen, gate = make_stage_dirs(base, source="audiocaps")
    res = runner.invoke(app, ["publish", "--generated", str(gen), "--gated", str(gate),
                              "--corpus-dir", str(base / "corpus"), "--name", "stagewise"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["version"] == 1 and out["accepted"] > 0
    return Path(out["path"])


def test_publish_from_stage_folders_records_model_prompts_and_gate(version_dir: Path) -> None:
    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert manifest["model"] == "/home/someone/models/tiny-llm"
    assert manifest["prompt_versions"] == {"1": "aaaa1111", "2": "bbbb2222"}
    assert manifest["gate_version"] == "synthetic0001" and manifest["rounds"] == 1
    readme = (version_dir / "README.md").read_text()
    assert "license_name: audiocaps-academic-use" in readme and "tiny-llm (local model)" in readme


def test_publish_refuses_a_folder_that_is_not_a_stage_output(tmp_path: Path) -> None:
    res = runner.invoke(app, ["publish", "--generated", str(tmp_path), "--gated", str(tmp_path),
                              "--corpus-dir", str(tmp_path / "c")])
    assert isinstance(res.exception, RobustclapError)
    assert "robustclap generate --out" in str(res.exception)


def test_export_is_a_loadable_hub_folder(version_dir: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    dest = tmp_path / "hub"
    res = runner.invoke(app, ["export", str(version_dir.parent), "--to", str(dest)])
    assert res.exit_code == 0, res.output
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert "README.md" in files and "manifest.json" not in files
    assert all(f.startswith("data/") for f in files if f.endswith(".parquet"))
    ds = datasets.load_dataset(str(dest), "candidates", cache_dir=str(tmp_path / "cache"))
    assert set(ds) == {"train", "validation", "test"}
    assert "/home/someone" not in (dest / "README.md").read_text()
    # a second export into the same folder is refused, --overwrite replaces it
    res = runner.invoke(app, ["export", str(version_dir), "--to", str(dest)])
    assert isinstance(res.exception, RobustclapError) and "--overwrite" in str(res.exception)
    res = runner.invoke(app, ["export", str(version_dir), "--to", str(dest), "--overwrite"])
    assert res.exit_code == 0


@pytest.mark.parametrize("env, says", [
    ({"HF_HUB_OFFLINE": "1"}, "offline mode is on (HF_HUB_OFFLINE=1)"),
    ({"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"},
     "cannot reach the Hugging Face Hub at http://127.0.0.1:9"),
])
def test_push_without_the_hub_is_one_clear_message(version_dir: Path, env: dict,
                                                    says: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    proc = subprocess.run([ROBUSTCLAP, "push", str(version_dir), "someone/stagewise"],
                          capture_output=True, text=True, timeout=120, env={**clean, **env})
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "robustclap export" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 3
