"""Everything `robustclap run` will need, checked before Prefect or an engine starts.

A run used to read its gate config inside the flow (a Prefect traceback when it was missing)
and the fine-tune training config only after generating and publishing a corpus. Now every
file the run depends on is opened and validated here, so a typo costs seconds, not a run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from robustclap.contracts.errors import RobustclapError
from robustclap.flows.config import RunConfig


def _not_a_file(what: str, path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise RobustclapError(f"{what} {path} exists and is not a folder")


def check_run(rc: RunConfig) -> None:
    """Raise one RobustclapError for the first thing the run could not use."""
    from robustclap.pipeline.ingest import detect_format

    if not rc.input.is_file():
        raise RobustclapError(f"input: {rc.input} is not a file")
    if rc.format == "auto":
        detect_format(rc.input)  # an unknown extension fails here, not inside the flow
    _not_a_file("corpus_dir", rc.corpus_dir)
    _not_a_file("corpus folder", rc.corpus_root())
    _not_a_file("work_dir", rc.work_dir)
    if rc.gate_config is not None and not rc.gate_config.is_file():
        raise RobustclapError(f"gate_config: {rc.gate_config} is not a file")
    from robustclap.quality.config import load_config as load_gate_config

    try:
        load_gate_config(rc.gate_config)
    except (UnicodeDecodeError, ValueError) as exc:  # anything it does not word itself
        raise RobustclapError(f"gate_config {rc.gate_config}: {exc}") from exc
    for what, folder in (("generate.prompt_dir", rc.generate.prompt_dir),):
        if folder is not None and not Path(folder).is_dir():
            raise RobustclapError(f"{what}: {folder} is not a folder")
    if rc.generate.cache_dir is not None:
        _not_a_file("generate.cache_dir", Path(rc.generate.cache_dir))
    if rc.finetune.enabled:
        _check_finetune(rc)


def _check_finetune(rc: RunConfig) -> None:
    """The training config parses and its audio folder exists (the corpus comes later)."""
    from robustclap.training.config import load_config

    ft = rc.finetune
    if ft.train_config is None:
        raise RobustclapError("finetune.enabled needs finetune.train_config (a training YAML)")
    if not ft.train_config.is_file():
        raise RobustclapError(f"finetune.train_config: {ft.train_config} is not a file")
    cfg = load_config(ft.train_config)
    audio = ft.audio_dir or cfg.data.audio_dir
    if not Path(audio).is_dir():
        raise RobustclapError(f"fine-tune audio folder {audio} is not a folder "
                              "(finetune.audio_dir or the training config's data.audio_dir)")


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
