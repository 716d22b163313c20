"""File modes that follow the user's umask, for files made through `tempfile`.

`tempfile.mkstemp` creates files 0600 and `mkdtemp` folders 0700 whatever the umask says; a
file renamed into place from one would stay private to its writer. These helpers give such a
file or folder the mode `open()` / `mkdir()` would have given it.
"""

from __future__ import annotations

import os
from pathlib import Path


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it in /proc."""
    status = Path("/proc/self/status")
    lines = status.read_text().splitlines() if status.exists() else []
    for line in lines:
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: the only portable read is a set-and-restore
    os.umask(mask)
    return mask


def default_mode(is_dir: bool) -> int:
    """0666 / 0777 minus the umask: the mode a plain open() / mkdir() would give."""
    return (0o777 if is_dir else 0o666) & ~current_umask()


def follow_umask(path: str | Path) -> None:
    """Give `path` (and, for a folder, everything under it) its umask default mode."""
    path = Path(path)
    file_mode, dir_mode = default_mode(False), default_mode(True)
    if path.is_dir():
        for sub in sorted(path.rglob("*")):
            if not sub.is_symlink():
                os.chmod(sub, dir_mode if sub.is_dir() else file_mode)
        os.chmod(path, dir_mode)
    elif not path.is_symlink():
        os.chmod(path, file_mode)
