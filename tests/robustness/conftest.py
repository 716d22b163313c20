"""Fixtures of the robustness tests (issue 16)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline.cli import app


@pytest.fixture
def cli(capsys: pytest.CaptureFixture) -> Callable[[list], tuple[int, str]]:
    """Run the real `robustclap` entry point in-process (App.__call__, which turns a
    RobustclapError into one message and exit 2): (exit code, stdout + stderr)."""

    def run(args: list) -> tuple[int, str]:
        code = 0
        try:
            app([str(a) for a in args], prog_name="robustclap")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return code, out.out + out.err

    return run
