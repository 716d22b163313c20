"""The static report: the dashboard's overview, distributions and training results as one
self-contained HTML file (inline CSS and SVG, no script, nothing fetched from the network)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from dashboard import overview, page, queries
from dashboard.corpus import open_version


def render_report(root: Path, version: int | None = None) -> str:
    v = open_version(root, version)
    con = queries.connect()
    try:
        ov = overview.build(con, v)
        ranges, hists = overview.distributions(con, v, ov)
    finally:
        con.close()
    body = (f"<h1>{escape(Path(root).name)} v{v.number}: corpus quality report</h1>"
            + page.overview(ov) + page.distributions(ov, ranges, hists)
            + page.training(v.evaluation()))
    return page.document(f"{Path(root).name} v{v.number} report", body)


def write_report(root: Path, out: Path, version: int | None = None) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(root, version), encoding="utf-8")
    return out
