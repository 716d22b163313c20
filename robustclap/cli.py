"""The `robustclap` command: the root app that every stage's `cli.register(app)` adds to.

The only module that imports every package (the CLI layer sits last; see the README's
architecture section). Heavy libraries are imported inside commands so --help is fast.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from robustclap.cli_options import register as register_options
from robustclap.contracts.errors import RobustclapError

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


def _register_stages() -> None:
    from robustclap.bench.cli import register as register_bench
    from robustclap.bench.scenes.cli import register as register_scenes
    from robustclap.corpus.cli import register as register_corpus
    from robustclap.dashboard.cli import register as register_dashboard
    from robustclap.flows.cli import register as register_flows
    from robustclap.pipeline.cli import register as register_pipeline
    from robustclap.quality.cli import register as register_quality
    from robustclap.training.cli import register as register_training

    register_options(app)
    register_pipeline(app)
    register_quality(app)
    register_training(app)
    register_scenes(app)  # the scene benchmark's set, listed after training as before
    register_corpus(app)  # publish, export, push
    register_flows(app)
    register_dashboard(app)
    register_bench(app)


_register_stages()
