"""CLI commands of the flows (run, migrate, serve); registered on the main app.

Prefect is started from here, so its settings are set here first: nothing imports Prefect at
module level (it caches its settings on first use, and --help stays fast).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from robustclap.contracts.errors import RobustclapError

# Prefect's default (20 s) is too short for its temporary server's first start on a busy
# 2-core machine; a run that still cannot start it gets one message instead of a traceback.
STARTUP_TIMEOUT_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


def prefect_env_defaults(timeout_s: int = 120) -> None:
    """Set before Prefect reads its settings (it caches them on first use).

    The temporary server's telemetry writes to its SQLite database while the migrations run;
    on a busy 2-core machine that ended in "database is locked" (seen on a fresh
    PREFECT_HOME). Telemetry has nowhere to go offline anyway."""
    os.environ.setdefault(STARTUP_TIMEOUT_ENV, str(timeout_s))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@contextlib.contextmanager
def prefect_start_errors(timeout_s: int = 120) -> Iterator[None]:
    prefect_env_defaults(timeout_s)
    try:
        yield
    except RuntimeError as exc:
        if "ephemeral Prefect API server" not in str(exc):
            raise
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        cause = lines[-1][:300] if lines else ""
        raise RobustclapError(
            f"Prefect's temporary local server did not start within "
            f"{os.environ[STARTUP_TIMEOUT_ENV]} s ({cause}). Run again, raise "
            f"{STARTUP_TIMEOUT_ENV}, or start one yourself: `prefect server start --host "
            "127.0.0.1` and set PREFECT_API_URL=http://127.0.0.1:4200/api") from exc


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        config: Annotated[Path, typer.Argument(help="run config YAML (see examples/quickstart.yaml)")],
        model: Annotated[str | None, typer.Option(help="override generate.model (hub id or local folder)")] = None,
        base_url: Annotated[str | None, typer.Option(help="override generate.base_url")] = None,
        api_key: Annotated[str | None, typer.Option(help="the LLM server's API key (default: $OPENAI_API_KEY or generate.api_key_env); never written to disk or to Prefect")] = None,
        max_tokens: Annotated[int | None, typer.Option(help="override generate.sampling.max_tokens")] = None,
        finetune: Annotated[bool | None, typer.Option("--finetune/--no-finetune", help="override finetune.enabled")] = None,
        input: Annotated[Path | None, typer.Option("--input", "-i", help="override input (caption file)")] = None,
        name: Annotated[str | None, typer.Option(help="override name (versions go to CORPUS_DIR/NAME/vN)")] = None,
        corpus_dir: Annotated[Path | None, typer.Option(help="override corpus_dir")] = None,
    ) -> None:
        """Run the paraphrase flow (and the fine-tune flow if the config enables it) locally.

        No Prefect server is needed: Prefect starts its own temporary local one.
        """
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        prefect_env_defaults()  # before anything reads Prefect's settings
        from robustclap.flows.config import check_run, load_run_config

        overrides = {"generate.model": model, "generate.base_url": base_url,
                     "generate.sampling.max_tokens": max_tokens, "finetune.enabled": finetune,
                     # paths given here are relative to where the command runs, not the config
                     "input": str(input.resolve()) if input else None, "name": name,
                     "corpus_dir": str(corpus_dir.resolve()) if corpus_dir else None}
        rc = load_run_config(config, overrides)  # errors surface before Prefect starts
        if api_key:  # through the environment, never a flow parameter Prefect would store
            os.environ[rc.generate.api_key_env] = api_key
        check_run(rc)  # every file the run needs, before Prefect or an engine starts
        from robustclap.llm.model_ref import resolve_llm_model

        model = resolve_llm_model(rc.generate)  # once, here: offline fails at once
        from robustclap.flows.finetune import finetune_flow
        from robustclap.flows.paraphrase import run_paraphrase, summary_line

        clean = {k: v for k, v in overrides.items() if v is not None}
        with prefect_start_errors():
            published = run_paraphrase(str(config), clean, model, rc)  # parsed once, above
        typer.echo(summary_line(published))
        if rc.finetune.enabled:
            if published.get("unchanged"):
                typer.echo("fine-tuning skipped: the corpus is unchanged")
                return
            if not published["finetune_ready"]:
                typer.echo("fine-tuning skipped: the corpus is below the configured thresholds")
                return
            result = finetune_flow(published["manifest_path"], str(config))
            typer.echo(json.dumps({"model_dir": result["model_dir"]}))

    @app.command("migrate")
    def migrate_cmd(
        folder: Annotated[Path, typer.Argument(help="a folder robustclap wrote: generation or gate output, a published version, a corpus, or runs/")],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="list the tables that would be upgraded; change nothing")] = False,
    ) -> None:
        """Rewrite every table of an older schema version under FOLDER at the current one, in
        one atomic swap of the folder (readers already upgrade such tables when they read
        them; this does it once, for good). Do not run it while a run writes into FOLDER."""
        from robustclap.corpus.migrate import migrate

        result = migrate(folder, dry_run=dry_run)
        n = len(result["tables"])
        if not n:
            result["message"] = f"every table is at schema version {result['schema_version']}"
        elif dry_run:
            result["message"] = f"{n} table(s) would be upgraded"
        else:
            result["message"] = f"{n} table(s) upgraded to schema version {result['schema_version']}"
        typer.echo(json.dumps(result, indent=2))

    @app.command("serve")
    def serve_cmd(
        config: Annotated[Path, typer.Argument(help="run config YAML")],
    ) -> None:
        """Serve the deployments: paraphrase on the config's cron schedule, fine-tune on each
        `robustclap.corpus.published` event (needs PREFECT_API_URL: `prefect server start`)."""
        from prefect import serve

        from robustclap.flows.serve import deployments

        serve(*deployments(config))
