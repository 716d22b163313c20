"""`robustclap bench [NAME…]`: run benchmarks, write JSON + a markdown table.

Its options are declared once as a table and reach the benchmarks as one dict (`run_one`'s
opts), parsed where a value needs it (comma lists, --engine-arg).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import typer

from robustclap.bench.harness import machine_info, write_report
from robustclap.bench.registry import BENCHMARKS, resolve, run_one
from robustclap.cli_options import argument, engine_args, option, with_options
from robustclap.contracts.errors import RobustclapError


def _names_help() -> str:
    """Every benchmark of the registry, so the help never misses one."""
    default = [b.name for b in BENCHMARKS.values() if b.default]
    asked = [b.name for b in BENCHMARKS.values() if not b.default]
    return (f"benchmarks to run (default: {', '.join(default)}; asked by name only: "
            f"{', '.join(asked)})")


BENCH_OPTIONS = (
    argument("names", list[str] | None, None, help=_names_help()),
    option("out", Path, Path("bench/results"), help="results folder (results-STAMP.json/.md and LATEST.*)"),
    option("repeats", int, 3, help="alternating repetitions per comparison"),
    option("size", str, "default", help="smoke | default | large (scales every benchmark)"),
    option("model", str | None, None, help="LLM for generate/prefix_cache/rerun (default: a tiny random Llama built locally)"),
    option("captions", int | None, None, help="captions per generate run (overrides --size)"),
    option("max_tokens", int | None, None, help="max completion tokens per request"),
    option("gate_rows", int | None, None, help="candidates for the gate benchmark (overrides --size)"),
    option("memory_rows", str | None, None, help="comma-separated row counts for the memory benchmark, e.g. 10000,100000,1000000"),
    option("engine_arg", list[str] | None, None, "--engine-arg", help="vLLM engine argument key=value (repeatable)"),
    option("workdir", Path | None, None, help="scratch folder (default: a temporary one)"),
    option("no_latest", bool, False, "--no-latest", help="do not overwrite LATEST.json/.md"),
    option("rounds", int, 3, help="yield: generate/gate rounds (1 + regeneration rounds)"),
    option("temperatures", str | None, None, help="yield: comma-separated temperatures for a one-round sweep, e.g. 0.5,0.8,1.1"),
    option("level2_source", bool, False, "--level2-source", help="yield: also run level 2 from the level-1 output"),
    option("models", str | None, None, help="yield: comma-separated models to compare (default: every packaged model)"),
    option("quickstart", bool, False, "--quickstart", help="yield: also time `robustclap run examples/quickstart.yaml` per model"),
    option("sampling_check", bool, False, "--sampling-check", help="yield: also one round per model with the other sampling (greedy vs the config's)"),
    option("prompt_study", bool, False, "--prompt-study", help="yield: the v1-vs-shipped prompt study on one model (--model) instead of the model comparison"),
    option("clap", str, "two-tower", help="method: the CLAP to train, two-tower (pretrained aisfx + MiniLM) or tiny (from scratch)"),
)

def bench_options(o: dict[str, Any]) -> dict[str, Any]:
    """The benchmarks' opts from the command line (comma lists split, --engine-arg parsed)."""
    if o["size"] not in ("smoke", "default", "large"):
        raise RobustclapError("--size must be smoke, default or large")
    if o["clap"] not in ("two-tower", "tiny"):
        raise RobustclapError("--clap must be two-tower or tiny")
    return {"repeats": o["repeats"], "size": o["size"], "model": o["model"],
            "captions": o["captions"], "max_tokens": o["max_tokens"], "gate_rows": o["gate_rows"],
            "memory_rows": [int(x) for x in o["memory_rows"].split(",")]
            if o["memory_rows"] else None,
            "engine_args": engine_args(o["engine_arg"]), "rounds": o["rounds"], "out": o["out"],
            "temperatures": [float(t) for t in o["temperatures"].split(",")]
            if o["temperatures"] else None,
            "level2_source": o["level2_source"], "clap": o["clap"],
            "models": o["models"].split(",") if o["models"] else None,
            "quickstart": o["quickstart"], "prompt_study": o["prompt_study"],
            "sampling_check": o["sampling_check"]}


@with_options(*BENCH_OPTIONS)
def bench(**o: Any) -> None:
    """Benchmark the toolkit against its bare engines (medians, ratios, goals met or not)."""
    try:
        chosen = resolve(o["names"])
    except KeyError as exc:
        raise RobustclapError(str(exc.args[0])) from exc
    opts = bench_options(o)
    out, latest = o["out"], not o["no_latest"]
    started = time.time()
    machine = machine_info()
    results = []
    with tempfile.TemporaryDirectory(prefix="robustclap-bench-") as tmp:
        root = o["workdir"] or Path(tmp)
        for b in chosen:
            typer.echo(f"[bench] {b.name}: {b.title}", err=True)
            r = run_one(b, opts, root / b.name)
            results.append(r)
            typer.echo(json.dumps({"name": r.name, "wall_s": r.wall_s, "error": r.error,
                                   "goals": [g.to_dict() for g in r.goals]}), err=True)
            # partial results are written after every benchmark
            write_report(results, out, started, machine, latest=latest)
    report = write_report(results, out, started, machine, latest=latest)
    typer.echo("\n".join(report["paths"]))


def register(app: typer.Typer) -> None:
    app.command()(bench)
