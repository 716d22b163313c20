"""3. rerun: an identical second `robustclap generate` run (same input, config, cache, out
folder): LLM calls (goal 0) and wall time as a share of the first run (goal <= 0.02). The first
run uses the shared, already started engine (engine start excluded); the second run gets no
backend at all, so it would have to start its own engine if it had anything to ask."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from robustclap.bench.benchmarks.generate import make_cfg
from robustclap.bench.common import llm_setup
from robustclap.bench.harness import Goal, Result, median


def run(workdir: Path, **opts) -> Result:
    from robustclap.pipeline.runner import run_generate

    setup = llm_setup(workdir, opts)
    n, max_tokens, repeats, model = setup.captions, setup.max_tokens, setup.repeats, setup.model
    csv, backend, start_s = setup.csv, setup.backend, setup.start_s
    res = Result("rerun", "rerun: identical second run",
                 params={"captions": n, "max_tokens": max_tokens, "repeats": repeats,
                         "model": model, "max_attempts": 3})
    res.metrics["engine_start_s (excluded)"] = start_s
    first, second, calls2, hits2 = [], [], [], []
    for rep in range(repeats):
        d = workdir / f"rep{rep}"
        shutil.rmtree(d, ignore_errors=True)
        cfg = make_cfg(model, max_tokens, d / "cache", backend="inprocess")
        cfg = cfg.model_copy(update={"max_attempts": 3})
        t = time.perf_counter()
        m1 = run_generate(csv, d / "out", cfg, backend=backend)
        first.append(time.perf_counter() - t)
        t = time.perf_counter()
        m2 = run_generate(csv, d / "out", cfg)
        second.append(time.perf_counter() - t)
        calls2.append(m2.counts["llm_calls"])
        hits2.append(m2.counts["rows_skipped"])
        res.metrics.setdefault("first_run_llm_calls", []).append(m1.counts["llm_calls"])
        shutil.rmtree(d, ignore_errors=True)
    share = median(second) / median(first)
    res.metrics.update({"first_run_wall_s": first, "second_run_wall_s": second,
                        "second_run_llm_calls": calls2, "second_run_rows_skipped": hits2,
                        "first_run_wall_median_s": median(first),
                        "second_run_wall_median_s": median(second),
                        "second_over_first": share})
    res.goals.append(Goal("second-run LLM calls", float(max(calls2)), 0))
    res.goals.append(Goal("second-run wall / first-run wall", share, 0.02))
    res.notes.append("a same-process measure: both runs' wall times are the whole run_generate "
                     "call; the CLI adds its own Python start-up (imports) to either")
    return res
