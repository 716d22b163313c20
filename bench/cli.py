"""`robustclap bench [NAME…]`: run benchmarks, write JSON + a markdown table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _names_help() -> str:
    """Every benchmark of the registry, so the help never misses one."""
    from robustclap.bench.registry import BENCHMARKS  # names and titles only: light

    default = [b.name for b in BENCHMARKS.values() if b.default]
    asked = [b.name for b in BENCHMARKS.values() if not b.default]
    return (f"benchmarks to run (default: {', '.join(default)}; asked by name only: "
            f"{', '.join(asked)})")


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        names: Annotated[list[str] | None, typer.Argument(help=_names_help())] = None,
        out: Annotated[Path, typer.Option(help="results folder (results-STAMP.json/.md and LATEST.*)")] = Path("bench/results"),
        repeats: Annotated[int, typer.Option(help="alternating repetitions per comparison")] = 3,
        size: Annotated[str, typer.Option(help="smoke | default | large (scales every benchmark)")] = "default",
        model: Annotated[str | None, typer.Option(help="LLM for generate/prefix_cache/rerun (default: a tiny random Llama built locally)")] = None,
        captions: Annotated[int | None, typer.Option(help="captions per generate run (overrides --size)")] = None,
        max_tokens: Annotated[int | None, typer.Option(help="max completion tokens per request")] = None,
        gate_rows: Annotated[int | None, typer.Option(help="candidates for the gate benchmark (overrides --size)")] = None,
        memory_rows: Annotated[str | None, typer.Option(help="comma-separated row counts for the memory benchmark, e.g. 10000,100000,1000000")] = None,
        engine_arg: Annotated[list[str] | None, typer.Option("--engine-arg", help="vLLM engine argument key=value (repeatable)")] = None,
        workdir: Annotated[Path | None, typer.Option(help="scratch folder (default: a temporary one)")] = None,
        no_latest: Annotated[bool, typer.Option("--no-latest", help="do not overwrite LATEST.json/.md")] = False,
        rounds: Annotated[int, typer.Option(help="yield: generate/gate rounds (1 + regeneration rounds)")] = 3,
        temperatures: Annotated[str | None, typer.Option(help="yield: comma-separated temperatures for a one-round sweep, e.g. 0.5,0.8,1.1")] = None,
        level2_source: Annotated[bool, typer.Option("--level2-source", help="yield: also run level 2 from the level-1 output")] = False,
        models: Annotated[str | None, typer.Option(help="yield: comma-separated models to compare (default: every packaged model)")] = None,
        quickstart: Annotated[bool, typer.Option("--quickstart", help="yield: also time `robustclap run examples/quickstart.yaml` per model")] = False,
        sampling_check: Annotated[bool, typer.Option("--sampling-check", help="yield: also one round per model with the other sampling (greedy vs the config's)")] = False,
        prompt_study: Annotated[bool, typer.Option("--prompt-study", help="yield: the v1-vs-shipped prompt study on one model (--model) instead of the model comparison")] = False,
        clap: Annotated[str, typer.Option(help="method: the CLAP to train, two-tower (pretrained aisfx + MiniLM) or tiny (from scratch)")] = "two-tower",
    ) -> None:
        """Benchmark the toolkit against its bare engines (medians, ratios, goals met or not)."""
        import json
        import tempfile
        import time

        from robustclap.bench.harness import machine_info, write_report
        from robustclap.bench.registry import resolve, run_one
        from robustclap.cli_options import engine_args
        from robustclap.contracts.errors import RobustclapError

        try:
            chosen = resolve(names)
        except KeyError as exc:
            raise RobustclapError(str(exc.args[0])) from exc
        if size not in ("smoke", "default", "large"):
            raise RobustclapError("--size must be smoke, default or large")
        if clap not in ("two-tower", "tiny"):
            raise RobustclapError("--clap must be two-tower or tiny")
        opts = {"repeats": repeats, "size": size, "model": model, "captions": captions,
                "max_tokens": max_tokens, "gate_rows": gate_rows,
                "memory_rows": [int(x) for x in memory_rows.split(",")] if memory_rows else None,
                "engine_args": engine_args(engine_arg), "rounds": rounds, "out": out,
                "temperatures": [float(t) for t in temperatures.split(",")] if temperatures else None,
                "level2_source": level2_source, "clap": clap,
                "models": models.split(",") if models else None, "quickstart": quickstart,
                "prompt_study": prompt_study, "sampling_check": sampling_check}
        started = time.time()
        machine = machine_info()
        results = []
        with tempfile.TemporaryDirectory(prefix="robustclap-bench-") as tmp:
            root = workdir or Path(tmp)
            for b in chosen:
                typer.echo(f"[bench] {b.name}: {b.title}", err=True)
                r = run_one(b, opts, root / b.name)
                results.append(r)
                typer.echo(json.dumps({"name": r.name, "wall_s": r.wall_s, "error": r.error,
                                       "goals": [g.to_dict() for g in r.goals]}), err=True)
                # partial results are written after every benchmark
                write_report(results, out, started, machine, latest=not no_latest)
        report = write_report(results, out, started, machine, latest=not no_latest)
        typer.echo("\n".join(report["paths"]))
