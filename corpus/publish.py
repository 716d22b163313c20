"""Publish a gated corpus as `<corpus>/vN/` atomically, with a manifest and a dataset card.

The version is assembled in a hidden temporary folder and renamed into place in one step, so
a reader never sees half a version; `latest` is a symlink swapped atomically afterwards.
Publishing is idempotent: when the content hash (corpus/content_hash.py) equals the latest
version's, nothing is written and that version is returned marked `unchanged`. Tables of an
older schema version are written upgraded into the version, never linked as they are.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from robustclap.contracts import layout
from robustclap.contracts.fsmode import follow_umask
from robustclap.contracts.schema import CANDIDATES, CAPTIONS, check_file, col, read_batches
from robustclap.contracts.stage import StageStats
from robustclap.contracts.upgrade import upgrade_file
from robustclap.corpus import card as hub_card
from robustclap.corpus.content_hash import RECIPE, content_hash, version_hash
from robustclap.corpus.hub_files import write_hub_files
from robustclap.corpus.stale import remove_stale
from robustclap.corpus.versions import (
    BrokenVersion,
    check_version,
    file_entries,
    latest_target,
    read_manifest,
)

_COUNT_ROWS = 8192  # candidate rows per batch while counting


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link Parquet tables (every writer replaces them atomically, so the version's link
    keeps its content); copy everything else. A gate rerun rewrites summary.json in place: a
    linked copy changed the published version with it and broke its checksums."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix != ".parquet":
        shutil.copy2(src, dst)
        return
    try:
        os.link(src, dst)  # same filesystem: no copy of large shards
    except OSError:
        shutil.copy2(src, dst)


def corpus_counts(gen_dir: Path, gate_dir: Path) -> dict:
    """Counts the card, the event and the trigger thresholds are based on."""
    check_file(CAPTIONS, gen_dir / layout.CAPTIONS_FILE)
    captions = pq.ParquetFile(gen_dir / layout.CAPTIONS_FILE).metadata.num_rows
    summary = json.loads((gate_dir / layout.SUMMARY_FILE).read_text())
    gate = StageStats.from_dict(summary, legacy="gate")  # also a summary older than StageStats
    accepted, regenerate = gate.rows_out, int(gate.count("regenerate"))
    n_candidates = llm_ok = 0
    found: set[int] = set()
    for shard in layout.candidate_shards(gen_dir):
        # two columns, a few thousand rows at a time: reading a whole shard's columns
        # (pq.read_table, threaded) held ~15 MiB more at 1,000,000 candidates
        for t in read_batches(CANDIDATES, shard, _COUNT_ROWS, [col.level, col.status]):
            n_candidates += t.num_rows
            llm_ok += pc.sum(pc.equal(t[col.status], "ok")).as_py() or 0
            found.update(pc.unique(t[col.level]).to_pylist())
    levels = sorted(found) or [1, 2]
    pairs = captions * len(levels)
    return {
        "captions": captions, "candidates": n_candidates, "llm_ok": llm_ok,
        "llm_failed": n_candidates - llm_ok, "accepted": accepted,
        "caption_levels": pairs, "caption_levels_without_paraphrase": regenerate,
        "pass_rate": round((pairs - regenerate) / pairs, 4) if pairs else 0.0,
        "levels": levels, "gate_levels": gate.extra.get("levels", {}),
    }


def caption_sources(captions: Path) -> list[str]:
    """The distinct `source` values of a captions file (the card's licence comes from them)."""
    values = pq.read_table(captions, columns=[col.source])[col.source]
    return sorted(str(s) for s in pc.unique(values).to_pylist() if s is not None)


def _place(src: Path, dst: Path, upgrades: dict[str, dict]) -> None:
    """Link (or copy) a file into the version; a table of an older schema is written
    upgraded instead, and recorded in `upgrades` under its path in the version."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    done = upgrade_file(src, dst)
    if done is None:
        _link_or_copy(src, dst)
    else:
        upgrades[dst.name if dst.parent.name != layout.CANDIDATES_DIR
                 else f"{layout.CANDIDATES_DIR}/{dst.name}"] = done


def latest_version(root: Path) -> Path | None:
    """The version `latest` points to (the newest one when there is no link), when it honours
    the readers' contract; None otherwise (then the next publish is a new version anyway)."""
    try:
        target = latest_target(root)
    except BrokenVersion:
        return None
    target = target or layout.newest_version_dir(root)
    return target if target is not None and not check_version(target) else None


def unchanged_result(target: Path) -> dict:
    """What `publish` returns when the content equals `target`'s: that version, unchanged."""
    manifest = read_manifest(target)
    return {**manifest, "path": str(target), "manifest_path": str(target / layout.MANIFEST_FILE),
            "unchanged": True}


def publish(root: Path, name: str, gen_dir: Path, gate_dir: Path, info: dict) -> dict:
    """Write the next version and return its manifest (with `path` and `version`); when the
    content equals the latest version's, write nothing and return that one (`unchanged`)."""
    root.mkdir(parents=True, exist_ok=True)
    remove_stale(root)  # half-written folders of a publish that was killed
    digest = content_hash(gen_dir / layout.CAPTIONS_FILE, gate_dir / layout.ACCEPTED_FILE,
                          gate_dir / layout.REJECTED_FILE, {"name": name, **info})
    latest = latest_version(root)
    if latest is not None and version_hash(latest) == digest:
        return unchanged_result(latest)
    tmp = root / f"{layout.PUBLISHING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # a plain mkdir follows the umask (mkdtemp would make it 0700)
    upgrades: dict[str, dict] = {}
    try:
        for fname in layout.GATE_FILES:
            if (gate_dir / fname).exists():
                _place(gate_dir / fname, tmp / fname, upgrades)
        _place(gen_dir / layout.CAPTIONS_FILE, tmp / layout.CAPTIONS_FILE, upgrades)
        for shard in layout.candidate_shards(gen_dir):
            _place(shard, tmp / layout.CANDIDATES_DIR / shard.name, upgrades)
        for man in sorted((gen_dir / layout.RUN_MANIFESTS_DIR).glob("*.json")):
            _link_or_copy(man, tmp / layout.GENERATION_MANIFESTS_DIR / man.name)
        follow_umask(tmp)  # the gate's files arrive 0600 from mkstemp
        configs = write_hub_files(tmp)
        sources = caption_sources(tmp / layout.CAPTIONS_FILE)
        counts = corpus_counts(gen_dir, gate_dir)
        summary_md = (gate_dir / layout.SUMMARY_MD_FILE).read_text() \
            if (gate_dir / layout.SUMMARY_MD_FILE).exists() else ""
        checksums = file_entries(tmp)  # the readers' contract (corpus/versions.py)
        while True:  # the version number is claimed by the rename itself
            version = (layout.versions(root) or [0])[-1] + 1
            manifest = {
                "name": name, "version": version,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "counts": counts, **info,
                "content_hash": {"recipe": RECIPE, "sha256": digest},
                **({"schema_upgrades": upgrades} if upgrades else {}),
                "files": sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()),
                "checksums": checksums,
            }
            (tmp / layout.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str))
            (tmp / layout.CARD_FILE).write_text(hub_card.render(
                manifest, configs, sources, summary_md, info.get("license")))
            target = layout.version_dir(root, version)
            try:
                os.rename(tmp, target)
                break
            except OSError:
                if not target.exists():
                    raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    link_tmp = root / f"{layout.LATEST_TMP_PREFIX}{os.getpid()}"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    os.symlink(target.name, link_tmp)
    os.replace(link_tmp, root / layout.LATEST)
    return {**manifest, "path": str(target), "manifest_path": str(target / layout.MANIFEST_FILE),
            "unchanged": False}
