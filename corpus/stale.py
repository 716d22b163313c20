"""Leftovers of a publish that was killed: its hidden `.publishing-PID-…` folder.

A reader never sees such a folder as a version (only `vN` counts, and only with a valid
manifest), but a killed publish can leave half-written files in it forever. The next publish
removes the folders whose process is gone; a live one (a concurrent publish) is left alone.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from robustclap.contracts import layout

_TMP = re.compile(rf"^{re.escape(layout.PUBLISHING_PREFIX)}(\d+)-[0-9a-f]+$")
_LINK_TMP = re.compile(rf"^{re.escape(layout.LATEST_TMP_PREFIX)}(\d+)$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale(root: Path) -> list[str]:
    """Delete the temporary folders and links of dead publishing processes; return names."""
    removed: list[str] = []
    if not Path(root).is_dir():
        return removed
    for p in Path(root).iterdir():
        m = _TMP.match(p.name) or _LINK_TMP.match(p.name)
        if m is None or _alive(int(m.group(1))):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p.name)
    return removed
