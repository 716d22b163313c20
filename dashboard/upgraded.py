"""Older tables of a published version, as the pages' DuckDB queries can read them.

The pages query Parquet files by path with DuckDB, so a version written by an older robustclap
(schema version 1, or gate scores from before a score column existed) would fail on the
columns it lacks. Such a table is upgraded once per process (`contracts/upgrade.py`: defaults
filled in, recorded in the file's metadata) into a private temporary folder that is removed at
exit; the published version itself is never touched (`robustclap migrate` rewrites it for good).
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from robustclap.contracts.layout import Version
from robustclap.contracts.upgrade import needs_upgrade, upgrade_file

_lock = threading.Lock()
_copies: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> its upgraded copy
_folder: list[Path] = []


def _scratch() -> Path:
    if not _folder:
        _folder.append(Path(tempfile.mkdtemp(prefix="robustclap-upgraded-")))
        atexit.register(shutil.rmtree, _folder[0], True)
    return _folder[0]


def readable(path: str) -> str:
    """`path`, or the path of its upgraded copy when the table needs one (made once)."""
    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _copies:
            return _copies[key]
        copy = path
        if needs_upgrade(Path(path)):
            name = hashlib.sha256(repr(key).encode()).hexdigest()[:16] + ".parquet"
            copy = str(_scratch() / name)
            upgrade_file(Path(path), Path(copy))
        _copies[key] = copy
        return copy


@dataclass(frozen=True)
class UpgradedVersion(Version):
    """A version whose table paths lead to readable copies where the originals are older."""

    tables: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def _at(self, path: str) -> str:
        return self.tables.get(path, path)

    @property
    def captions(self) -> str:
        return self._at(super().captions)

    @property
    def candidates(self) -> list[str]:
        return [self._at(p) for p in super().candidates]

    @property
    def accepted(self) -> str:
        return self._at(super().accepted)

    @property
    def rejected(self) -> str:
        return self._at(super().rejected)

    @property
    def scores(self) -> str:
        return self._at(super().scores)


def upgraded(v: Version) -> Version:
    """`v` itself when every table is current, else a view of it with upgraded copies."""
    paths = [v.captions, v.accepted, v.rejected, v.scores, *v.candidates]
    tables = {p: readable(p) for p in paths if Path(p).is_file()}
    changed = {p: c for p, c in tables.items() if c != p}
    return UpgradedVersion(v.root, v.number, changed) if changed else v
