"""Fixtures of the robustness tests (issue 16)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from robustclap.cli import app

# the temporary Prefect server's first start takes longer than Prefect's 20 s default on a busy
# 2-core machine (the CLI raises it the same way: flows/cli.py)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


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


CAPTIONS_CSV = """clip_id,split,caption
dog_01,train,A dog barks twice.
dog_01,train,Two barks from a dog.
rain_02,train,Rain falls on a roof.
bell_03,train,A bell rings and then stops.
car_04,train,A car passes by quickly.
bird_05,test,Birds chirp in the morning.
drum_06,test,Someone hits a drum slowly.
"""


@pytest.fixture
def fake_llm():
    """A deterministic OpenAI-compatible endpoint (bench.fake_openai) on 127.0.0.1."""
    from robustclap.bench.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def small_run(tmp_path, fake_llm):
    """Write a run config (7 captions, the fake endpoint) and return its path."""
    import yaml

    def make(top: dict | None = None, **generate) -> Path:
        (tmp_path / "caps.csv").write_text(CAPTIONS_CSV)
        cfg = {"name": "robust", "input": "caps.csv", "corpus_dir": "corpus",
               "work_dir": "work", "regenerate_rounds": 1, **(top or {}),
               "generate": {"model": "fake", "base_url": fake_llm.url, "cache_dir": "cache",
                            "candidates": 2, "shard_size": 2, "max_attempts": 2, **generate}}
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    return make
