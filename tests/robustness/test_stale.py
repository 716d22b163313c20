"""A publish killed half-way leaves a hidden folder with half-written files (found by the
chaos run); the next publish removes it, and leaves a live publish's folder alone."""

from __future__ import annotations

import os
import subprocess
import sys

from robustclap.corpus.stale import remove_stale


def test_folders_of_dead_publishers_are_removed(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(proc.stdout)
    stale = tmp_path / f".publishing-{dead}-abcd1234"
    (stale / "data").mkdir(parents=True)
    (stale / "data" / "train.parquet").write_bytes(b"PAR1")  # torn, as a SIGKILL leaves it
    os.symlink("v1", tmp_path / f".latest-{dead}")
    live = tmp_path / f".publishing-{os.getpid()}-ef567890"
    live.mkdir()
    (tmp_path / "v1").mkdir()
    assert sorted(remove_stale(tmp_path)) == sorted([stale.name, f".latest-{dead}"])
    assert not stale.exists() and live.is_dir() and (tmp_path / "v1").is_dir()
