"""`pip install .` puts one package, `robustclap`, into site-packages, with its data files.

The wheel is built from a copy of the tracked files (so no build/ or egg-info lands in the
checkout), installed into a target folder, and imported from outside the repository: the
prompts, the gate config and the example training config must come along as package data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tracked_copy(dest: Path) -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to know the tracked files")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def test_wheel_installs_only_the_robustclap_namespace(tmp_path: Path) -> None:
    src, wheels, target = tmp_path / "src", tmp_path / "wheels", tmp_path / "site"
    src.mkdir()
    _tracked_copy(src)
    subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(wheels)], cwd=src, check=True)
    (wheel,) = wheels.glob("robustclap-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"robustclap", wheel.name.split("-py3")[0]
                                               + ".dist-info"}
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True)
    # bin/ holds the `robustclap` console script, not a package
    installed = {p.name for p in target.iterdir() if not p.name.endswith(".dist-info")}
    assert installed == {"robustclap", "bin"} and (target / "bin" / "robustclap").is_file()

    probe = (
        "import robustclap, robustclap.quality.config as q, robustclap.prompts as p\n"
        "from robustclap.training.config import load_config as t\n"
        "print(robustclap.__path__[0]); q.load_config(); p.load_template(1)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().startswith(str(target))
