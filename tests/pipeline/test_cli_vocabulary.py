"""One CLI vocabulary: the same flag for the same thing on every command, defaults in --help,
--version, --quiet / --log-level, progress bars that --quiet silences, refusal to replace
earlier output, `run --input/--name/--corpus-dir`."""

from __future__ import annotations

import io
import shutil
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from robustclap.cli import app
from robustclap.cli_options import QUIET_ENV
from robustclap.pipeline.config import GenerateConfig

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
# different spellings of one meaning that must not come back
SYNONYMS = {"--batch-rows": "--batch-size", "--cache": "--cache-dir", "--out-dir": "--out",
            "--output": "--out", "--num-threads": "--threads", "--force": "--overwrite"}


def _options() -> dict[str, set[str]]:
    group = typer.main.get_command(app)
    return {name: {o for p in cmd.params for o in p.opts if o.startswith("--")}
            for name, cmd in group.commands.items()}


def test_same_flag_for_the_same_thing_everywhere() -> None:
    opts = _options()
    for name, flags in opts.items():
        bad = flags & set(SYNONYMS)
        assert not bad, f"{name} uses {bad}; the vocabulary says {[SYNONYMS[b] for b in bad]}"
    for name in ("gate", "calibrate", "train", "evaluate"):  # torch-heavy commands
        assert "--threads" in opts[name], name
    for name in ("gate", "calibrate", "generate"):
        assert "--cache-dir" in opts[name], name
    assert "--batch-size" in opts["gate"] and "--batch-size" in opts["evaluate"]
    assert {"--input", "--name", "--corpus-dir"} <= opts["run"]
    assert "--overwrite" in opts["ingest"] and "--overwrite" in opts["export"]


def test_version_and_log_level() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"robustclap {version('robustclap')}"
    res = runner.invoke(app, ["--log-level", "loud", "ingest", "--help"],
                        env={"COLUMNS": "250"})
    assert res.exit_code == 2 and "use one of debug, info, warning, error" in res.output


def test_generate_help_shows_the_config_defaults() -> None:
    res = runner.invoke(app, ["generate", "--help"], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    cfg = GenerateConfig()
    for flag, value in (("--candidates", cfg.candidates), ("--max-attempts", cfg.max_attempts),
                        ("--max-tokens", cfg.sampling.max_tokens), ("--model", cfg.model),
                        ("--shard-size", cfg.shard_size)):
        line = next(x for x in res.output.splitlines() if f" {flag} " in x)
        assert f"[default: {value}]" in line, line


def test_quiet_silences_progress_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    from robustclap.contracts import progress

    def run() -> str:
        buf = io.StringIO()
        monkeypatch.setattr(progress, "Console",
                            lambda **kw: Console(file=buf, force_terminal=True, width=120))
        with progress.stage_progress("gate", 10, "rows") as advance:
            advance(4)
        return buf.getvalue()

    monkeypatch.delenv(QUIET_ENV, raising=False)
    shown = run()
    assert "gate" in shown and "4/10" in shown and "rows/s" in shown and "ETA" in shown
    monkeypatch.setenv(QUIET_ENV, "1")
    assert run() == ""
    monkeypatch.delenv(QUIET_ENV)
    res = runner.invoke(app, ["--quiet", "tiny-model", "--help"])
    assert res.exit_code == 0


def test_second_ingest_is_refused_without_overwrite(tmp_path: Path) -> None:
    args = ["ingest", "--input", str(REPO / "examples" / "captions.csv"), "--out", str(tmp_path)]
    assert runner.invoke(app, args).exit_code == 0
    before = (tmp_path / "captions.parquet").stat().st_mtime_ns
    res = runner.invoke(app, args)
    assert res.exit_code != 0 and "--overwrite" in str(res.exception)
    assert (tmp_path / "captions.parquet").stat().st_mtime_ns == before
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_run_takes_input_name_and_corpus_dir(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    shutil.copy(REPO / "examples" / "quickstart.yaml", cfg)
    res = runner.invoke(app, ["run", str(cfg), "--input", str(tmp_path / "none.csv")])
    assert res.exit_code != 0 and str(tmp_path / "none.csv") in str(res.exception)
    res = runner.invoke(app, ["run", str(cfg), "--name", "bad/name"])
    assert res.exit_code != 0 and "name" in str(res.exception)


def test_flow_progress_shows_rows_and_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    from robustclap.contracts import progress

    buf = io.StringIO()
    monkeypatch.delenv(QUIET_ENV, raising=False)
    monkeypatch.setattr(progress, "Console",
                        lambda **kw: Console(file=buf, force_terminal=True, width=160))
    with progress.generation_progress(8, label="round 0") as update:
        update.shards(2)
        update(4, 100)
        update.shard_done()
    out = buf.getvalue()
    assert "round 0" in out and "4/8" in out and "tok/s" in out
    assert "shards" in out and "1/2" in out and "ETA" in out
