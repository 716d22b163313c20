"""Publish a gated corpus as `<corpus>/vN/` atomically, with a manifest and a dataset card.

The version is assembled in a hidden temporary folder and renamed into place in one step, so
a reader never sees half a version; `latest` is a symlink swapped atomically afterwards.
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
from robustclap.contracts.schema import CANDIDATES, CAPTIONS, check_file, col
from robustclap.contracts.stage import StageStats
from robustclap.flows import card as hub_card
from robustclap.flows.hub_files import write_hub_files
from robustclap.flows.stale import remove_stale
from robustclap.flows.version_check import file_entries

_COUNT_ROWS = 8192  # candidate rows per batch while counting


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
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
        check_file(CANDIDATES, shard)
        # two columns, a few thousand rows at a time: reading a whole shard's columns
        # (pq.read_table, threaded) held ~15 MiB more at 1,000,000 candidates
        for t in pq.ParquetFile(shard).iter_batches(_COUNT_ROWS, columns=[col.level, col.status],
                                                    use_threads=False):
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


def publish(root: Path, name: str, gen_dir: Path, gate_dir: Path, info: dict) -> dict:
    """Write the next version and return its manifest (with `path` and `version`)."""
    root.mkdir(parents=True, exist_ok=True)
    remove_stale(root)  # half-written folders of a publish that was killed
    tmp = root / f"{layout.PUBLISHING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # a plain mkdir follows the umask (mkdtemp would make it 0700)
    try:
        for fname in layout.GATE_FILES:
            if (gate_dir / fname).exists():
                _link_or_copy(gate_dir / fname, tmp / fname)
        _link_or_copy(gen_dir / layout.CAPTIONS_FILE, tmp / layout.CAPTIONS_FILE)
        for shard in layout.candidate_shards(gen_dir):
            _link_or_copy(shard, tmp / layout.CANDIDATES_DIR / shard.name)
        for man in sorted((gen_dir / layout.RUN_MANIFESTS_DIR).glob("*.json")):
            _link_or_copy(man, tmp / layout.GENERATION_MANIFESTS_DIR / man.name)
        follow_umask(tmp)  # the gate's files arrive 0600 from mkstemp
        configs = write_hub_files(tmp)
        sources = caption_sources(tmp / layout.CAPTIONS_FILE)
        counts = corpus_counts(gen_dir, gate_dir)
        summary_md = (gate_dir / layout.SUMMARY_MD_FILE).read_text() \
            if (gate_dir / layout.SUMMARY_MD_FILE).exists() else ""
        checksums = file_entries(tmp)  # the readers' contract (flows/version_check.py)
        while True:  # the version number is claimed by the rename itself
            version = (layout.versions(root) or [0])[-1] + 1
            manifest = {
                "name": name, "version": version,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "counts": counts, **info,
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
    return {**manifest, "path": str(target), "manifest_path": str(target / layout.MANIFEST_FILE)}
