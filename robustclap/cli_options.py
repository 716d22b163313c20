"""Options every `robustclap` command shares: --version, --quiet, --log-level.

They are set once on the main app (before the command name) and reach the stages through the
environment, so a Prefect task or a spawned vLLM process sees the same choice:
`ROBUSTCLAP_QUIET=1` turns every progress bar off, the log level goes to Python's logging,
vLLM (`VLLM_LOGGING_LEVEL`) and Prefect (`PREFECT_LOGGING_LEVEL`).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.progress import QUIET_ENV, quiet  # noqa: F401 - re-exported

LOG_LEVELS = ("debug", "info", "warning", "error")


def robustclap_version() -> str:
    try:
        return version("robustclap")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def apply(log_level: str) -> None:
    """One log level for this process and the ones it starts (vLLM servers, Prefect)."""
    level = log_level.upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    os.environ["VLLM_LOGGING_LEVEL"] = level
    os.environ["PREFECT_LOGGING_LEVEL"] = level


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"robustclap {robustclap_version()}")
        raise typer.Exit()


def main(
    version_: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="print the robustclap version and exit")] = False,
    quiet_: Annotated[bool, typer.Option(
        "--quiet", "-q", help="no progress bars; only warnings and errors are logged")] = False,
    log_level: Annotated[str | None, typer.Option(
        "--log-level", help="debug | info | warning | error, for robustclap, vLLM and "
        "Prefect alike (default: each one's own; warning with --quiet)")] = None,
) -> None:
    """Paraphrase corpora of audio captions, quality gates, and multi-view CLAP
    fine-tuning."""
    if log_level is not None and log_level.lower() not in LOG_LEVELS:
        raise typer.BadParameter(f"{log_level!r}: use one of {', '.join(LOG_LEVELS)}",
                                 param_hint="--log-level")
    if quiet_:
        os.environ[QUIET_ENV] = "1"
    if log_level is not None or quiet_:
        apply(log_level or "warning")


def register(app: typer.Typer) -> None:
    """Install the shared options as the app's callback."""
    app.callback()(main)


def refuse_replace(path: Path | None, option: str, overwrite: bool) -> None:
    """Stop before any work when `option`'s output file exists (unless --overwrite) or is a
    folder: earlier output is never replaced silently."""
    if path is None:
        return
    if path.is_dir():
        raise RobustclapError(f"{option} {path}: is a folder; give the file to write")
    if path.exists() and not overwrite:
        raise RobustclapError(f"{option} {path} already exists; pass --overwrite to replace it, "
                              f"or choose another {option}")


def default_of(model: type, dotted: str) -> str:
    """' (default: X)' for a pydantic config field, for the help of an option whose CLI default
    is None (None = "keep the config's value", so typer cannot show the real default)."""
    node: object = model
    for part in dotted.split("."):
        field = node.model_fields[part]  # type: ignore[attr-defined]
        node = field.annotation
        value = field.get_default(call_default_factory=True)
    shown = ",".join(map(str, value)) if isinstance(value, list) else value
    # typer renders help as rich markup: "[...]" would be a tag
    return " " + escape(f"[default: {shown}]")


def engine_args(pairs: list[str] | None) -> dict | None:
    """--engine-arg key=value (value parsed as JSON when it can be: 2048, true, 0.5)."""
    if not pairs:
        return None
    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RobustclapError(f"--engine-arg {pair!r}: expected key=value")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


F = TypeVar("F", bound=Callable[..., Any])
REQUIRED = inspect.Parameter.empty


def option(name: str, annotation: Any, default: Any = REQUIRED, *decls: str,
           **kwargs: Any) -> inspect.Parameter:
    """One typer option as data: the line `name: Annotated[annotation, typer.Option(*decls,
    **kwargs)] = default` of a command's signature."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[annotation, typer.Option(*decls, **kwargs)])


def argument(name: str, annotation: Any, default: Any = REQUIRED,
             **kwargs: Any) -> inspect.Parameter:
    """One typer argument as data (see `option`)."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[annotation, typer.Argument(**kwargs)])


def with_options(*params: inspect.Parameter) -> Callable[[F], F]:
    """Give a `def cmd(**opts)` command the signature `params` (typer reads flags, defaults and
    help from the signature): a wide command declares its options once, as a table, and its
    body reads them as one dict instead of threading dozens of parameters."""
    def wrap(func: F) -> F:
        func.__signature__ = inspect.Signature(list(params))  # type: ignore[attr-defined]
        func.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
        return func

    return wrap
