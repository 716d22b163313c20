"""Time to the overview on a generated corpus of 1,000,000 candidate rows.

    python -m robustclap.dashboard.bench_overview /tmp/bench-corpus [--rows 1000000] [--compare]

Generates the corpus once (kept for re-runs), then times, each on a fresh DuckDB connection as
a page request would: the overview queries, the distributions, and the whole dashboard page
(overview + distributions + both example tables) as served to the browser, and with
--compare the page with the drift section between two 1M-row versions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from robustclap.dashboard import overview, queries
from robustclap.dashboard.app import render
from robustclap.dashboard.corpus import list_versions, open_version
from robustclap.dashboard.synthetic import write_version


def _timed(fn) -> float:  # noqa: ANN001 - any zero-argument callable
    start = time.perf_counter()
    fn()
    return round(time.perf_counter() - start, 3)


def main(
    root: Annotated[Path, typer.Argument(help="corpus folder (created when absent)")],
    rows: Annotated[int, typer.Option(min=4, help="candidate rows")] = 1_000_000,
    repeat: Annotated[int, typer.Option(min=1, help="timed repetitions of each step")] = 3,
    compare: Annotated[bool, typer.Option(
        help="also write a second version and time the page with drift v1 -> v2")] = False,
) -> None:
    """Time the dashboard's overview, distributions and whole page on a generated corpus."""
    n_captions = rows // 4  # 2 levels x 2 candidates
    gen_s = None
    if not list_versions(root):
        gen_s = _timed(lambda: write_version(root, 1, n_captions, seed=0))
    if compare and len(list_versions(root)) < 2:
        write_version(root, 2, n_captions, seed=1, shift=0.03)
    v = open_version(root)

    def overview_only() -> None:
        con = queries.connect()
        try:
            overview.build(con, v)
        finally:
            con.close()

    def overview_and_distributions() -> None:
        con = queries.connect()
        try:
            overview.distributions(con, v, overview.build(con, v))
        finally:
            con.close()

    result = {
        "candidate_rows": queries.counts(queries.connect(), v)["candidates"],
        "generate_s": gen_s,
        "overview_s": [_timed(overview_only) for _ in range(repeat)],
        "overview_and_distributions_s": [_timed(overview_and_distributions)
                                         for _ in range(repeat)],
        "full_page_s": [_timed(lambda: render(root, {})) for _ in range(repeat)],
        "full_page_filtered_s": [_timed(lambda: render(root, {"level": "1", "gate": "sbert",
                                                                   "q": "dog"}))
                                 for _ in range(repeat)],
    }
    if compare:
        result["full_page_with_drift_s"] = [
            _timed(lambda: render(root, {"version": str(v.number), "compare": "1"}))
            for _ in range(repeat)]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    typer.run(main)
