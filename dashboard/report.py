"""The static report: the dashboard's overview, distributions and training results as one
self-contained HTML file (inline CSS and SVG, no script, nothing fetched from the network)."""

from __future__ import annotations

from html import escape
from pathlib import Path

import duckdb
import pyarrow as pa

from robustclap.contracts.errors import RobustclapError
from robustclap.corpus.versions import BrokenVersion
from robustclap.dashboard import overview, page, queries
from robustclap.dashboard.collection import corpora, is_corpus
from robustclap.dashboard.corpus import open_version


def render_report(root: Path, version: int | None = None) -> str:
    root = Path(root)
    found = corpora(root) if root.is_dir() and not is_corpus(root) else {}
    if found:  # a folder of corpora: the report is of one of them
        raise RobustclapError(f"{root} holds corpora ({', '.join(found)}); give one of them, "
                              f"e.g. {root / next(iter(found))}")
    v = open_version(root, version)
    con = queries.connect()
    try:
        ov = overview.build(con, v)
        ranges, hists = overview.distributions(con, v, ov)
    except (duckdb.Error, pa.ArrowException, OSError) as exc:  # one message, exit 2
        raise BrokenVersion(f"corpus version {v.path}: a table cannot be read "
                            f"({type(exc).__name__}: {exc})") from exc
    finally:
        con.close()
    body = (f"<h1>{escape(Path(root).name)} v{v.number}: corpus quality report</h1>"
            + page.overview(ov) + page.distributions(ov, ranges, hists)
            + page.training(v.evaluation()))
    return page.document(f"{Path(root).name} v{v.number} report", body)


def write_report(root: Path, out: Path, version: int | None = None) -> Path:
    out = Path(out)
    if out.is_dir():
        raise RobustclapError(f"--out {out}: is a folder; give the HTML file to write")
    html = render_report(root, version)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise RobustclapError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return out
