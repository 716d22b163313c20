"""Progress bars (rich) with one look on every command: label, bar, done/total, rate, ETA.

They go to stderr, so a command's JSON summary on stdout stays clean, and they stay silent
with `--quiet` (ROBUSTCLAP_QUIET=1) or when asked to.
"""

from __future__ import annotations

import contextlib
import os
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

QUIET_ENV = "ROBUSTCLAP_QUIET"


def quiet() -> bool:
    """True when the user asked for no progress bars (`--quiet` or ROBUSTCLAP_QUIET=1)."""
    return os.environ.get(QUIET_ENV, "") not in ("", "0")



def _bar(*extra: object) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"), TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"), *extra, TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(), console=Console(stderr=True),
    )


class GenerationUpdate:
    """`update(rows, tokens)` for the rows bar; `shards(total)` / `shard_done()` add a second
    bar for the flow, which runs one task per shard (one live display holds both)."""

    def __init__(self, bar: Progress | None, total_rows: int, label: str) -> None:
        self.bar, self.start, self.done, self.tokens = bar, time.perf_counter(), 0, 0
        self.rows_task = bar.add_task(label, total=total_rows, unit="rows", rate="",
                                      tps="") if bar else None
        self.shard_task = None
        self.shards_done = 0

    def __call__(self, rows: int, new_tokens: int) -> None:
        if self.bar is None:
            return
        self.done += rows
        self.tokens += new_tokens
        elapsed = max(time.perf_counter() - self.start, 1e-6)
        self.bar.update(self.rows_task, advance=rows, rate=f"{self.done / elapsed:,.1f} rows/s",
                        tps=f"{self.tokens / elapsed:,.0f} tok/s")

    def shards(self, total: int) -> None:
        if self.bar is not None and self.shard_task is None:
            self.shard_task = self.bar.add_task("  shards", total=total, unit="shards",
                                                rate="", tps="")

    def shard_done(self) -> None:
        if self.bar is None or self.shard_task is None:
            return
        self.shards_done += 1
        elapsed = max(time.perf_counter() - self.start, 1e-6)
        self.bar.update(self.shard_task, advance=1,
                        rate=f"{self.shards_done / elapsed * 60:,.1f} shards/min")


@contextlib.contextmanager
def generation_progress(total_rows: int, enabled: bool = True, label: str = "generate"
                        ) -> Iterator[GenerationUpdate]:
    """Yield a GenerationUpdate: rows done, rows/s, tokens/s, ETA (and shards in the flow)."""
    if not enabled or quiet():
        yield GenerationUpdate(None, total_rows, label)
        return
    bar = _bar(TextColumn("{task.fields[tps]}"))
    with bar:
        yield GenerationUpdate(bar, total_rows, label)


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
