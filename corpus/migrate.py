"""`robustclap migrate FOLDER`: rewrite every table of an older schema under a folder, at once.

Readers upgrade older tables in memory every time they read them; users who want it done once
rewrite the folder (a generation or gate folder, a published version, a corpus or `runs/`).
The new folder is built beside the old one (unchanged files hard-linked, upgraded tables
written, the manifests of published versions given the new sizes and SHA-256 and a
`migrated` record) and swapped in with one atomic exchange (Linux renameat2), so a reader sees
the old folder or the new one, never a mix; a run killed half-way leaves the old one intact.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import SCHEMA_VERSION
from robustclap.contracts.upgrade import needs_upgrade, upgrade_file
from robustclap.corpus.versions import sha256_file

MIGRATING_PREFIX = ".migrating-"


def plan(folder: Path) -> list[Path]:
    """The table files under `folder` that need an upgrade (a newer or broken one raises)."""
    return [p for p in sorted(folder.rglob("*.parquet"))
            if p.is_file() and not p.is_symlink() and needs_upgrade(p)]


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _mirror(src: Path, dst: Path, todo: set[Path]) -> dict[str, dict[str, Any]]:
    """`dst` as a copy of `src` (hard links, symlinks kept) with the `todo` tables upgraded;
    returns {relative path: upgrade record}."""
    done: dict[str, dict[str, Any]] = {}
    for dirpath, dirnames, filenames in os.walk(src):
        here = Path(dirpath)
        out = dst / here.relative_to(src)
        out.mkdir(exist_ok=True)
        shutil.copystat(here, out)
        for name in [*dirnames, *filenames]:
            p = here / name
            if p.is_symlink():
                os.symlink(os.readlink(p), out / name)
                if name in dirnames:
                    dirnames.remove(name)  # never walk into a linked folder
            elif name in filenames:
                if p in todo:
                    done[str(p.relative_to(src))] = upgrade_file(p, out / name) or {}
                    shutil.copymode(p, out / name)
                else:
                    try:
                        os.link(p, out / name)
                    except OSError:
                        shutil.copy2(p, out / name)
    return done


def _fix_manifests(dst: Path, done: dict[str, dict[str, Any]]) -> list[str]:
    """New sizes and SHA-256 for the rewritten files in every published version's manifest,
    plus a `migrated` record; each manifest is written as a new file (never through a link)."""
    fixed = []
    for manifest in sorted(dst.rglob(layout.MANIFEST_FILE)):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a manifest this migration needs to touch: left as it is
        sums = data.get("checksums") if isinstance(data, dict) else None
        if not isinstance(sums, dict):
            continue
        base = manifest.parent
        mine = {str((dst / rel).relative_to(base)): rec for rel, rec in done.items()
                if (dst / rel).is_relative_to(base)}
        changed = [rel for rel in mine if rel in sums]
        if not changed:
            continue
        for rel in changed:
            sums[rel] = {"bytes": (base / rel).stat().st_size, "sha256": sha256_file(base / rel)}
        data.setdefault("migrated", []).append({
            "to_schema": SCHEMA_VERSION, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": {rel: mine[rel] for rel in changed}})
        tmp = manifest.with_name(f".{manifest.name}.tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        shutil.copymode(manifest, tmp)
        os.replace(tmp, manifest)  # replaces the hard link, not the original's content
        fixed.append(str(manifest.relative_to(dst)))
    return fixed


def migrate(folder: Path, dry_run: bool = False) -> dict[str, Any]:
    """Rewrite `folder` at the current schema; returns what was (or would be) upgraded."""
    folder = Path(folder)
    if folder.is_symlink():
        raise RobustclapError(f"{folder} is a link; migrate the folder it points to "
                              f"({os.readlink(folder)}) or the folder holding both")
    if not folder.is_dir():
        raise RobustclapError(f"{folder}: no such folder")
    folder = folder.resolve()
    todo = plan(folder)
    result: dict[str, Any] = {"path": str(folder), "schema_version": SCHEMA_VERSION,
                              "tables": [str(p.relative_to(folder)) for p in todo]}
    if dry_run or not todo:
        return {**result, "migrated": False}
    tmp = folder.parent / f"{MIGRATING_PREFIX}{folder.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    old = folder.parent / f"{MIGRATING_PREFIX}{folder.name}-old-{uuid.uuid4().hex[:6]}"
    try:
        done = _mirror(folder, tmp, set(todo))
        result["manifests"] = _fix_manifests(tmp, done)
        if _exchange(tmp, folder):
            old = tmp  # after the exchange the temporary name holds the old folder
        else:  # two renames: a reader may find the folder missing for a moment
            os.rename(folder, old)
            os.rename(tmp, folder)
    except BaseException:
        if not folder.exists() and old.exists():
            os.rename(old, folder)  # stopped between the two renames: the old one is back
        shutil.rmtree(tmp, ignore_errors=True)  # a partial new folder
        raise
    shutil.rmtree(old, ignore_errors=True)
    return {**result, "migrated": True}
