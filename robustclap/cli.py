"""The `robustclap` command: the root app that every stage's `cli.register(app)` adds to.

The only module that imports every package (the CLI layer sits last; see the README's
architecture section). Heavy libraries are imported inside commands so --help is fast.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from robustclap import cli_options
from robustclap.bench import cli as bench_cli
from robustclap.bench.scenes import cli as scenes_cli
from robustclap.contracts.errors import RobustclapError
from robustclap.corpus import cli as corpus_cli
from robustclap.dashboard import cli as dashboard_cli
from robustclap.flows import cli as flows_cli
from robustclap.pipeline import cli as pipeline_cli
from robustclap.quality import cli as quality_cli
from robustclap.training import cli as training_cli

err = Console(stderr=True)


class App(typer.Typer):
    """Turns RobustclapError into one clear message and exit code 2 (no traceback)."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except RobustclapError as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            sys.exit(2)
        except KeyboardInterrupt:
            err.print("interrupted: committed shards are kept; run again to continue")
            sys.exit(130)


app = App(
    name="robustclap", no_args_is_help=True, pretty_exceptions_enable=False,
    help="Paraphrase corpora of audio captions, quality gates, and multi-view CLAP fine-tuning.",
)


# every stage adds its commands; this order is the order of `robustclap --help`'s command list
# (the scene benchmark's set sits after training's commands, where it was listed before)
for _stage in (cli_options, pipeline_cli, quality_cli, training_cli, scenes_cli, corpus_cli,
               flows_cli, dashboard_cli, bench_cli):
    _stage.register(app)
