"""Readable tables of evaluation results: one model, or two side by side (before -> after)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from robustclap.training.evaluate import METRICS, QUERY_SETS

_LABEL = {"original": "original", "level1": "level-1", "level2": "level-2"}
_DIRS = {"t2a": "text→audio", "a2t": "audio→text"}


def _rows(result: dict[str, Any]) -> list[tuple[str, str, dict[str, float] | None, str]]:
    """(direction, query set, metrics, n) rows, drops included, in display order."""
    rows = []
    for d in _DIRS:
        for name in QUERY_SETS:
            r = result["retrieval"].get(name)
            n = "" if r is None else str(r["queries"] if d == "t2a" else r["clips"])
            rows.append((_DIRS[d], _LABEL[name], None if r is None else r[d], n))
        for name in QUERY_SETS[1:]:
            drop = result["drop"].get(name)
            rows.append((_DIRS[d], f"drop original→{_LABEL[name]}",
                         None if drop is None else drop[d],
                         "" if drop is None else str(drop["captions"])))
    return rows


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def results_table(results: list[dict[str, Any]]) -> Table:
    """One model: its metrics. Two models: each cell reads `first → second`."""
    if len(results) == 1:
        title = f"{results[0]['model']} — split {results[0]['split']}"
    else:
        title = f"{results[0]['model']} → {results[1]['model']} — split {results[0]['split']}"
    table = Table(title=title)
    for name in ("direction", "queries", "n", *METRICS):
        table.add_column(name, justify="left" if name in ("direction", "queries") else "right")
    per_model = [_rows(r) for r in results]
    for i, (direction, queries, _, n) in enumerate(per_model[0]):
        cells = []
        for m in METRICS:
            values = [rows[i][2][m] if rows[i][2] is not None else None for rows in per_model]
            cells.append(" → ".join(_fmt(v) for v in values))
        table.add_row(direction, queries, n, *cells)
    if all("zero_shot" in r for r in results):
        zs = [r["zero_shot"] for r in results]
        for key in ("top1", "top5"):
            table.add_row("zero-shot", f"accuracy {key}", str(zs[0]["clips"]),
                          " → ".join(_fmt(z[key]) for z in zs), "", "", "")
    return table
