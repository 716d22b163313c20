"""CLI commands around published versions: publish (from stage folders), export, push."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from robustclap.contracts.errors import RobustclapError

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_VERSION_HELP = "version folder (…/NAME/vN) or corpus folder (…/NAME: its latest version)"


def register(app: typer.Typer) -> None:
    @app.command("publish")
    def publish_cmd(
        generated: Annotated[Path, typer.Option("--generated", help="`robustclap generate --out` folder")],
        gated: Annotated[Path, typer.Option("--gated", help="`robustclap gate --out` folder")],
        name: Annotated[str, typer.Option(help="corpus name: versions go to CORPUS_DIR/NAME/vN")] = "corpus",
        corpus_dir: Annotated[Path, typer.Option(help="folder holding the corpora")] = Path("runs/corpus"),
        license: Annotated[str | None, typer.Option("--license", help="Hub licence id for the card (default: from the input's source where known, else unknown)")] = None,
    ) -> None:
        """Publish a generation and gate folder as the next corpus version (what `run` does at
        its end), Hub-ready: README.md card and data/<config>/<split>.parquet."""
        from robustclap.corpus.stage_publish import publish_stages

        if not _NAME.match(name):
            raise RobustclapError(f"--name {name!r}: use letters, digits, '_', '.' or '-'")
        published = publish_stages(generated, gated, corpus_dir, name, license)
        c = published["counts"]
        unchanged = bool(published.get("unchanged"))
        message = (f"unchanged, latest is v{published['version']}" if unchanged
                   else f"published v{published['version']}")
        typer.echo(json.dumps({"message": message, "version": published["version"],
                               "path": published["path"], "unchanged": unchanged,
                               "accepted": c["accepted"], "pass_rate": c["pass_rate"]}, indent=2))

    @app.command("export")
    def export_cmd(
        version: Annotated[Path, typer.Argument(help=_VERSION_HELP)],
        to: Annotated[Path, typer.Option("--to", help="folder to write the Hub dataset to")],
        number: Annotated[int | None, typer.Option("--version", help="version number when VERSION is a corpus folder (default: latest)")] = None,
        overwrite: Annotated[bool, typer.Option(help="replace a folder that is not empty")] = False,
    ) -> None:
        """Copy a version's card and data files to a folder `datasets.load_dataset` and
        `huggingface-cli upload` take as they are (no manifests: they hold local paths)."""
        from robustclap.corpus.export import export_version, resolve_version

        files = export_version(resolve_version(version, number), to, overwrite=overwrite)
        typer.echo(json.dumps({"path": str(to), "files": len(files)}, indent=2))

    @app.command("push")
    def push_cmd(
        version: Annotated[Path, typer.Argument(help=_VERSION_HELP)],
        repo_id: Annotated[str, typer.Argument(help="Hub dataset repository, e.g. user/name")],
        number: Annotated[int | None, typer.Option("--version", help="version number when VERSION is a corpus folder (default: latest)")] = None,
        private: Annotated[bool, typer.Option(help="create the repository private")] = False,
        revision: Annotated[str | None, typer.Option(help="branch to push to (default: main)")] = None,
    ) -> None:
        """Upload a version to the Hugging Face Hub (huggingface_hub's upload_folder; token from
        `hf auth login` or HF_TOKEN). Offline it stops with one message."""
        from robustclap.corpus.export import push_version, resolve_version

        typer.echo(push_version(resolve_version(version, number), repo_id, private, revision))
