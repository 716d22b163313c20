"""Where a published corpus keeps its files, so queries and pages never build paths themselves.

A corpus directory holds versions `v1`, `v2`, ... (and `latest`); training results of version N
live in `finetune/vN/evaluation.json` beside them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from robustclap.flows.publish import versions
from robustclap.flows.version_check import (
    BrokenVersion,
    check_version,
    latest_target,
    verify_version,
)

from robustclap.contracts.errors import RobustclapError


@dataclass(frozen=True)
class Version:
    """One published version of a corpus and the paths of its tables."""

    root: Path
    number: int

    @property
    def path(self) -> Path:
        return self.root / f"v{self.number}"

    @property
    def captions(self) -> str:
        return str(self.path / "captions.parquet")

    @property
    def candidates(self) -> list[str]:
        """The shard files, listed here: a folder name holding `[x]` or `*` is not a glob."""
        return [str(p) for p in sorted((self.path / "candidates").glob("*.parquet"))]

    @property
    def accepted(self) -> str:
        return str(self.path / "accepted.parquet")

    @property
    def rejected(self) -> str:
        return str(self.path / "rejected.parquet")

    @property
    def scores(self) -> str:
        return str(self.path / "scores.parquet")

    def has_candidates(self) -> bool:
        return any((self.path / "candidates").glob("*.parquet"))

    def manifest(self) -> dict[str, Any]:
        return _json(self.path / "manifest.json")

    def generation_manifests(self) -> list[dict[str, Any]]:
        folder = self.path / "generation_manifests"
        return [_json(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []

    def gate_config(self) -> dict[str, Any]:
        path = self.path / "gate_config.yaml"
        if not path.exists():
            return {}
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}

    def evaluation(self) -> dict[str, Any] | None:
        """Training results of a model fine-tuned on this version, when there are any."""
        path = self.root / "finetune" / f"v{self.number}" / "evaluation.json"
        return _json(path) if path.exists() else None


def _json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RobustclapError(f"{path}: not valid JSON ({exc})") from exc


REQUIRED = ("captions.parquet", "accepted.parquet", "rejected.parquet", "scores.parquet")


def _problems(root: Path, number: int) -> list[str]:
    """The readers' contract (flows/version_check.py) plus the tables the pages read."""
    path = root / f"v{number}"
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
            f"{root}: no published corpus versions (v1, v2, ...) found"
            + (f"; broken or unreadable: {', '.join(f'v{v}' for v in have)}" if have else ""))
    return found


def open_version(root: Path, number: int | None = None) -> Version:
    """The requested version, or the one `latest` points to (the newest valid one when
    there is no `latest`); a BrokenVersion naming what is wrong for a broken one."""
    root = Path(root)
    if not root.is_dir():
        raise RobustclapError(f"{root}: no such corpus folder")
    if number is None:
        target = latest_target(root)
        if target is not None:
            match = re.fullmatch(r"v(\d+)", target.name)
            if match is None:
                raise BrokenVersion(f"{root / 'latest'} points to {target.name}, not a vN folder")
            number = int(match.group(1))
    if number is None:
        return Version(root, check_corpus(root)[-1])
    if number not in versions(root):
        raise RobustclapError(f"{root}: no version v{number} (have {list_versions(root)})")
    problems = _problems(root, number)
    if problems:
        verify_version(root / f"v{number}")  # raises with the contract's own wording
        raise BrokenVersion(f"corpus version {root / f'v{number}'} is broken: "
                            + "; ".join(problems))
    return Version(root, number)
