"""A progress bar for generation: rows done, tokens/s, ETA (rich)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextlib.contextmanager
def generation_progress(total_rows: int, enabled: bool = True) -> Iterator:
    """Yield `update(rows, tokens)`; prints nothing when disabled (e.g. not a terminal)."""
    if not enabled:
        yield lambda rows, tokens: None
        return
    bar = Progress(
        TextColumn("[bold]generate"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
        TextColumn("{task.fields[tps]:>8.0f} tok/s"), TimeRemainingColumn(),
    )
    task = bar.add_task("generate", total=total_rows, tps=0.0)
    start = time.perf_counter()
    tokens = 0

    def update(rows: int, new_tokens: int) -> None:
        nonlocal tokens
        tokens += new_tokens
        elapsed = max(time.perf_counter() - start, 1e-6)
        bar.update(task, advance=rows, tps=tokens / elapsed)

    with bar:
        yield update
