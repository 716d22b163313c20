"""`robustclap dashboard` and `robustclap report`.

The dashboard and the report load DuckDB, so they are imported inside the commands (keeps
`robustclap --help` fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from robustclap.cli_options import refuse_replace


def dashboard(
    corpus_dir: Annotated[Path, typer.Argument(help="corpus folder holding v1, v2, ... (e.g. runs/corpus/NAME), or a folder of corpora (runs/corpus: lists them, each opens under /NAME/)")],
    port: Annotated[int, typer.Option(help="port (0 = any free port)")] = 8501,
    host: Annotated[str, typer.Option(help="address to bind; the default keeps it local")] = "127.0.0.1",
) -> None:
    """Serve the quality dashboard of a published corpus (or of every corpus in a folder)
    until Ctrl-C."""
    from robustclap.dashboard.app import make_server  # lazy: DuckDB

    server = make_server(corpus_dir, host, port)
    typer.echo(f"dashboard of {corpus_dir} on http://{host}:{server.server_address[1]}/",
               err=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def report(
    corpus_dir: Annotated[Path, typer.Argument(help="corpus folder holding v1, v2, ...")],
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("report.html"),
    version: Annotated[int | None, typer.Option(help="version number (default: latest)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing --out file")] = False,
) -> None:
    """Write the overview of a corpus version as one self-contained HTML file."""
    from robustclap.dashboard.report import write_report  # lazy: DuckDB

    refuse_replace(out, "--out", overwrite)
    typer.echo(str(write_report(corpus_dir, out, version)))


def register(app: typer.Typer) -> None:
    app.command()(dashboard)
    app.command()(report)
