"""The readers' contract for a published corpus version.

A folder `vN` counts as a version only when its `manifest.json` is valid JSON naming the same
version, lists its files with their sizes and SHA-256 (`checksums`), and every listed file is
there with that size and, for Parquet, an intact footer. Readers (dashboard, report, training)
go through `check_version` / `verify_version` instead of trusting whatever lies in the folder:
a half-copied, truncated or hand-edited version is flagged with what is wrong, never read as if
it were whole.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError

MANIFEST = layout.MANIFEST_FILE
_CHUNK = 1 << 20


class BrokenVersion(RobustclapError):
    """A published version that breaks the readers' contract (readers show it as broken)."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_entries(folder: Path) -> dict[str, dict[str, Any]]:
    """{relative path: {"bytes": size, "sha256": digest}} for every file under `folder`,
    written into the manifest at publish time (the manifest itself is not listed)."""
    out: dict[str, dict[str, Any]] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            out[str(p.relative_to(folder))] = {"bytes": p.stat().st_size,
                                               "sha256": sha256_file(p)}
    return out


def read_manifest(version_dir: Path) -> dict[str, Any]:
    """The manifest as a dict, or BrokenVersion saying why it cannot be used."""
    path = version_dir / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BrokenVersion(f"{version_dir}: no {MANIFEST}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BrokenVersion(f"{path}: not a valid manifest ({exc})") from exc
    if not isinstance(data, dict):
        raise BrokenVersion(f"{path}: not a valid manifest (expected a JSON object)")
    return data


def _listed(manifest: dict[str, Any], path: Path) -> dict[str, dict[str, Any] | None]:
    """Files the manifest promises: `checksums` (sizes + digests) or, for versions published
    before checksums were recorded, the plain `files` list."""
    sums = manifest.get("checksums")
    if isinstance(sums, dict) and all(isinstance(v, dict) for v in sums.values()):
        return dict(sums)
    files = manifest.get("files")
    if isinstance(files, list) and all(isinstance(f, str) for f in files):
        return {f: None for f in files}
    raise BrokenVersion(f"{path / MANIFEST}: lists no files (`checksums` or `files`)")


def _parquet_ok(path: Path) -> str | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.ParquetFile(path).metadata  # noqa: B018 - reading the footer is the check
    except (OSError, pa.ArrowException) as exc:
        return f"{path.name}: not a readable Parquet file ({exc})"
    return None


def check_version(version_dir: Path, deep: bool = False) -> list[str]:
    """Everything wrong with one version (empty = it honours the contract).

    Sizes and Parquet footers are always checked; `deep` also recomputes every SHA-256.
    """
    version_dir = Path(version_dir)
    try:
        manifest = read_manifest(version_dir)
        listed = _listed(manifest, version_dir)
    except BrokenVersion as exc:
        return [str(exc)]
    problems: list[str] = []
    if str(manifest.get("version")) != version_dir.name.lstrip("v"):
        problems.append(f"manifest names version {manifest.get('version')!r}, folder is "
                        f"{version_dir.name}")
    for rel, entry in listed.items():
        p = version_dir / rel
        if os.path.isabs(rel) or ".." in Path(rel).parts:
            problems.append(f"{rel}: a listed path outside the version")
            continue
        if not p.is_file():
            problems.append(f"{rel}: listed in the manifest but missing")
            continue
        if entry is not None and p.stat().st_size != entry.get("bytes"):
            problems.append(f"{rel}: {p.stat().st_size} bytes, the manifest says "
                            f"{entry.get('bytes')}")
            continue
        if p.suffix == ".parquet" and (err := _parquet_ok(p)):
            problems.append(err)
            continue
        if deep and entry is not None and sha256_file(p) != entry.get("sha256"):
            problems.append(f"{rel}: content differs from the manifest's SHA-256")
    return problems


def verify_version(version_dir: Path, deep: bool = False) -> Path:
    """Return the folder, or raise BrokenVersion with every problem found."""
    problems = check_version(version_dir, deep)
    if problems:
        head = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more"
                                          if len(problems) > 5 else "")
        raise BrokenVersion(f"corpus version {version_dir} is broken: {head}")
    return Path(version_dir)


def latest_target(root: Path) -> Path | None:
    """Where `latest` points (None when there is no link); BrokenVersion when it dangles or
    points outside the corpus folder."""
    link = Path(root) / layout.LATEST
    if not link.is_symlink() and not link.exists():
        return None
    if not link.is_symlink():
        raise BrokenVersion(f"{link}: expected a symlink to a version folder")
    target = Path(os.readlink(link))
    target = target if target.is_absolute() else link.parent / target
    if target.resolve().parent != Path(root).resolve() or not target.is_dir():
        raise BrokenVersion(f"{link} points to {os.readlink(link)}, which is not a version "
                            f"folder of {root}")
    return target
