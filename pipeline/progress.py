"""Progress bars (rich) with one look on every command: label, bar, done/total, rate, ETA.

They go to stderr, so a command's JSON summary on stdout stays clean, and they stay silent
with `--quiet` (ROBUSTCLAP_QUIET=1) or when asked to.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from pipeline.cli_options import quiet


def _bar(*extra: object) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"), TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"), *extra, TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(), console=Console(stderr=True),
    )


@contextlib.contextmanager
def generation_progress(total_rows: int, enabled: bool = True) -> Iterator:
    """Yield `update(rows, tokens)`: rows done, rows/s, tokens/s, ETA."""
    if not enabled or quiet():
        yield lambda rows, tokens: None
        return
    bar = _bar(TextColumn("{task.fields[tps]}"))
    task = bar.add_task("generate", total=total_rows, unit="rows", rate="", tps="")
    start = time.perf_counter()
    done = tokens = 0

    def update(rows: int, new_tokens: int) -> None:
        nonlocal done, tokens
        done += rows
        tokens += new_tokens
        elapsed = max(time.perf_counter() - start, 1e-6)
        bar.update(task, advance=rows, rate=f"{done / elapsed:,.1f} rows/s",
                   tps=f"{tokens / elapsed:,.0f} tok/s")

    with bar:
        yield update


@contextlib.contextmanager
def stage_progress(label: str, total: int | None, unit: str = "rows",
                   enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield `advance(n)` for any long stage: done/total, rate and ETA per `unit`."""
    if not enabled or quiet():
        yield lambda n: None
        return
    bar = _bar()
    task = bar.add_task(label, total=total, unit=unit, rate="")
    start = time.perf_counter()
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        rate = done / max(time.perf_counter() - start, 1e-6)
        bar.update(task, advance=n, rate=f"{rate:,.1f} {unit}/s")

    with bar:
        yield advance
