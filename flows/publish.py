"""Publish a gated corpus as `<corpus>/vN/` atomically, with a manifest and a dataset card.

The version is assembled in a hidden temporary folder and renamed into place in one step, so
a reader never sees half a version; `latest` is a symlink swapped atomically afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from robustclap.flows import card as hub_card
from robustclap.flows.hub_files import write_hub_files
from robustclap.flows.stale import remove_stale
from robustclap.flows.version_check import file_entries

from robustclap.contracts.fsmode import follow_umask
from robustclap.contracts.schema import CANDIDATES, CAPTIONS, check_file, col

VERSION_RE = re.compile(r"^v(\d+)$")
_COUNT_ROWS = 8192  # candidate rows per batch while counting
GATE_FILES = ("accepted.parquet", "rejected.parquet", "scores.parquet", "regenerate.parquet",
              "summary.json", "summary.md", "gate_config.yaml")


def versions(root: Path) -> list[int]:
    if not root.is_dir():
        return []
    return sorted(int(m.group(1)) for p in root.iterdir() if (m := VERSION_RE.match(p.name)))


def latest(root: Path) -> Path | None:
    found = versions(root)
    return root / f"v{found[-1]}" if found else None


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)  # same filesystem: no copy of large shards
    except OSError:
        shutil.copy2(src, dst)


def corpus_counts(gen_dir: Path, gate_dir: Path) -> dict:
    """Counts the card, the event and the trigger thresholds are based on."""
    check_file(CAPTIONS, gen_dir / "captions.parquet")
    captions = pq.ParquetFile(gen_dir / "captions.parquet").metadata.num_rows
    summary = json.loads((gate_dir / "summary.json").read_text())
    accepted = summary["counts"]["accepted"]
    regenerate = summary["counts"]["regenerate"]
    n_candidates = llm_ok = 0
    found: set[int] = set()
    for shard in sorted((gen_dir / "candidates").glob("*.parquet")):
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
        "levels": levels, "gate_levels": summary.get("levels", {}),
    }


def caption_sources(captions: Path) -> list[str]:
    """The distinct `source` values of a captions file (the card's licence comes from them)."""
    values = pq.read_table(captions, columns=[col.source])[col.source]
    return sorted(str(s) for s in pc.unique(values).to_pylist() if s is not None)


def publish(root: Path, name: str, gen_dir: Path, gate_dir: Path, info: dict) -> dict:
    """Write the next version and return its manifest (with `path` and `version`)."""
    root.mkdir(parents=True, exist_ok=True)
    remove_stale(root)  # half-written folders of a publish that was killed
    tmp = root / f".publishing-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # a plain mkdir follows the umask (mkdtemp would make it 0700)
    try:
        for fname in GATE_FILES:
            if (gate_dir / fname).exists():
                _link_or_copy(gate_dir / fname, tmp / fname)
        _link_or_copy(gen_dir / "captions.parquet", tmp / "captions.parquet")
        for shard in sorted((gen_dir / "candidates").glob("*.parquet")):
            _link_or_copy(shard, tmp / "candidates" / shard.name)
        for man in sorted((gen_dir / "manifests").glob("*.json")):
            _link_or_copy(man, tmp / "generation_manifests" / man.name)
        follow_umask(tmp)  # the gate's files arrive 0600 from mkstemp
        configs = write_hub_files(tmp)
        sources = caption_sources(tmp / "captions.parquet")
        counts = corpus_counts(gen_dir, gate_dir)
        summary_md = (gate_dir / "summary.md").read_text() if (gate_dir / "summary.md").exists() \
            else ""
        checksums = file_entries(tmp)  # the readers' contract (flows/version_check.py)
        while True:  # the version number is claimed by the rename itself
            version = (versions(root) or [0])[-1] + 1
            manifest = {
                "name": name, "version": version,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "counts": counts, **info,
                "files": sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()),
                "checksums": checksums,
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
            (tmp / "README.md").write_text(hub_card.render(
                manifest, configs, sources, summary_md, info.get("license")))
            target = root / f"v{version}"
            try:
                os.rename(tmp, target)
                break
            except OSError:
                if not target.exists():
                    raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    link_tmp = root / f".latest-{os.getpid()}"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    os.symlink(target.name, link_tmp)
    os.replace(link_tmp, root / "latest")
    return {**manifest, "path": str(target), "manifest_path": str(target / "manifest.json")}
