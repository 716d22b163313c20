"""Which versions of a published corpus the pages may read, and opening one.

Where a corpus keeps its files (`v1`, `v2`, ..., `latest`, `finetune/vN/evaluation.json`) and
the `Version` the queries and pages read paths from are the on-disk layout,
robustclap/contracts/layout.py; this module adds the readers' checks.
"""

from __future__ import annotations

from pathlib import Path

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.layout import Version, versions
from robustclap.corpus.versions import (
    BrokenVersion,
    check_version,
    latest_target,
    verify_version,
)
from robustclap.dashboard.upgraded import upgraded

__all__ = ["Version", "check_corpus", "list_versions", "open_version"]

# the tables the pages read, beyond what the readers' contract checks
REQUIRED = (layout.CAPTIONS_FILE, layout.ACCEPTED_FILE, layout.REJECTED_FILE,
            layout.SCORES_FILE)


def _problems(root: Path, number: int) -> list[str]:
    """The readers' contract (corpus/versions.py) plus the tables the pages read."""
    path = layout.version_dir(root, number)
    problems = check_version(path)
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    return problems + ([f"missing {', '.join(missing)}"] if missing else [])


def list_versions(root: Path) -> list[int]:
    """Versions that honour the readers' contract; a broken one is never offered."""
    return [v for v in versions(Path(root)) if not _problems(Path(root), v)]


def check_corpus(root: Path) -> list[int]:
    """The readable versions of a corpus folder; an error when there is none at all (a
    broken `latest` alone does not stop the dashboard: the page says what is wrong)."""
    root = Path(root)
    if not root.is_dir():
        raise RobustclapError(f"{root}: no such corpus folder")
    found = list_versions(root)
    if not found:
        have = versions(root)
        raise RobustclapError(
            f"{root}: no published corpus versions (v1, v2, ...) found, nor corpus folders "
            "holding them (NAME/v1, ...)"
            + (f"; broken or unreadable: {', '.join(f'v{v}' for v in have)}" if have else ""))
    return found


def open_version(root: Path, number: int | None = None) -> Version:
    """The requested version, or the one `latest` points to (the newest valid one when
    there is no `latest`); a BrokenVersion naming what is wrong for a broken one. Tables of
    an older schema are read through upgraded copies (dashboard/upgraded.py)."""
    root = Path(root)
    if not root.is_dir():
        raise RobustclapError(f"{root}: no such corpus folder")
    if number is None:
        target = latest_target(root)
        if target is not None:
            match = layout.VERSION_RE.fullmatch(target.name)
            if match is None:
                raise BrokenVersion(f"{root / layout.LATEST} points to {target.name}, "
                                    "not a vN folder")
            number = int(match.group(1))
    if number is None:
        return upgraded(Version(root, check_corpus(root)[-1]))
    if number not in versions(root):
        raise RobustclapError(f"{root}: no version v{number} (have {list_versions(root)})")
    problems = _problems(root, number)
    if problems:
        verify_version(layout.version_dir(root, number))  # raises with the contract's wording
        raise BrokenVersion(f"corpus version {layout.version_dir(root, number)} is broken: "
                            + "; ".join(problems))
    return upgraded(Version(root, number))  # older tables: readable copies (upgraded.py)
