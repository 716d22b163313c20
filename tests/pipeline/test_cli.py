import subprocess
import sys

from typer.testing import CliRunner

from robustclap.cli import app

runner = CliRunner()


def test_every_command_has_help():
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"ingest", "generate", "tiny-model"} <= set(names)
    for name in names:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage" in result.output


def test_unreachable_hub_model_stops_at_once_with_offline_recipe(tmp_path):
    """No hub here: a hub model must fail before any engine starts, with the fix."""
    proc = subprocess.run(
        [sys.executable, "-m", "robustclap", "generate", "--input", "examples/captions.csv",
         "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
         "--model", "Qwen/Qwen2.5-1.5B-Instruct"],
        capture_output=True, text=True, timeout=120, env={"HF_HUB_OFFLINE": "1", "PATH": ""},
    )
    assert proc.returncode == 2, proc.stderr
    assert "cannot load model" in proc.stderr and "--model" in proc.stderr
    assert "robustclap tiny-model" in proc.stderr and "--model runs/tiny-llm" in proc.stderr
    assert "packaged:qwen2.5-coder-1.5b-instruct" in proc.stderr
    assert "packaged:smollm2-135m-instruct" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "out" / "candidates").exists()


def test_bad_input_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("clip_id,text\na,b\n")
    proc = subprocess.run(
        [sys.executable, "-m", "robustclap", "generate", "--input", str(bad),
         "--out", str(tmp_path / "o"), "--model", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "missing column" in proc.stderr and "Traceback" not in proc.stderr
