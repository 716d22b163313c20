"""Where a published corpus keeps its files, so queries and pages never build paths themselves.

A corpus directory holds versions `v1`, `v2`, ... (and `latest`); training results of version N
live in `finetune/vN/evaluation.json` beside them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flows.publish import versions
from pipeline.errors import RobustclapError


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
    def candidates(self) -> str:
        return str(self.path / "candidates" / "*.parquet")

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


def list_versions(root: Path) -> list[int]:
    """Version numbers that have the gate's tables (a version missing them is unreadable)."""
    return [v for v in versions(root) if (root / f"v{v}" / "scores.parquet").exists()]


def open_version(root: Path, number: int | None = None) -> Version:
    """The requested version, or the newest one; a clear error for anything else."""
    root = Path(root)
    found = list_versions(root)
    if not found:
        raise RobustclapError(f"{root}: no published corpus versions (v1, v2, ...) found")
    if number is None:
        return Version(root, found[-1])
    if number not in found:
        raise RobustclapError(f"{root}: no version v{number} (have {found})")
    return Version(root, number)
