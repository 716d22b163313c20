"""cpu_dtype: the packaged model on vLLM's CPU build in bf16 against fp32, side by side.

Two in-process engines (both eager) stay up for the whole run; the same chat requests with the
same seeds go to each in turn, the one that goes first swapping every repetition. Measured:
seconds per batch (completion tokens per second beside it). bf16 (the CPU default) is the
"toolkit" side: ratio < 1 means bf16 is faster. Not part of the default suite (two engine starts).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from robustclap.bench.common import REPO
from robustclap.bench.harness import Goal, Result, alternate


def run(workdir: Path, **opts) -> Result:
    from vllm import LLM, SamplingParams

    from robustclap.llm.model_ref import resolve_model
    from robustclap.llm.packaged import DEFAULT_PACKAGED
    from robustclap.llm.platform import default_engine_args

    model = opts.get("model") or DEFAULT_PACKAGED
    ref = resolve_model(model)
    res = Result("cpu_dtype", "CPU dtype: bf16 vs fp32 for the packaged model",
                 params={"model": model, "repeats": opts["repeats"], "enforce_eager": True})
    engines, tokens = {}, {"bf16": [], "fp32": []}
    for name, dtype in (("bf16", "bfloat16"), ("fp32", "float32")):
        started = time.perf_counter()
        engines[name] = LLM(model=ref.name, **{**default_engine_args(ref.name), "dtype": dtype,
                                                "enforce_eager": True})
        res.metrics[f"{name}_engine_start_s"] = round(time.perf_counter() - started, 1)
    caps = pd.read_csv(REPO / "examples" / "captions.csv")["caption"].tolist() * 2
    msgs = [[{"role": "system", "content": "Rewrite the audio caption in other words."},
             {"role": "user", "content": c}] for c in caps]
    params = [SamplingParams(temperature=0.8, top_p=0.95, max_tokens=64, seed=i)
              for i in range(len(msgs))]

    def batch(name: str):
        def go() -> float:
            t = time.perf_counter()
            outs = engines[name].chat(msgs, sampling_params=params, use_tqdm=False)
            wall = time.perf_counter() - t
            tokens[name].append(sum(len(o.outputs[0].token_ids) for o in outs) / wall)
            return wall
        return go

    comp = alternate(batch("bf16"), batch("fp32"), repeats=opts["repeats"], warmup=1)
    res.comparisons["bf16 / fp32 seconds per batch"] = comp
    res.metrics["bf16_tokens_per_s"] = [round(x, 1) for x in tokens["bf16"]]
    res.metrics["fp32_tokens_per_s"] = [round(x, 1) for x in tokens["fp32"]]
    res.goals.append(Goal("bf16 / fp32 wall (the default must be the faster)", comp.ratio(), 1.0))
    engines.clear()  # drop the engines before the next benchmark runs beside them
    return res
