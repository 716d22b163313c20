"""What a published version holds, as one hash: publishing the same content again is a no-op.

A scheduled rerun with nothing new makes no LLM call and gets the same gate output; without this
it still published vN+1 with the same rows and fired the fine-tuning trigger again. The hash
covers the captions, the accepted and the rejected tables (row content, order-free) and the
generation identity (model, its revision, prompt versions, gate version, licence), so a changed
caption, reply, gate decision or model publishes, and nothing else does. Candidate shards are
left out on purpose: they carry per-run fields (run id, latency, cache hits).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb

from robustclap.contracts import layout
from robustclap.contracts.schema import CAPTIONS, CORPUS, GATE_REJECTED, TableSpec, col

RECIPE = 1  # bump when what is hashed changes: the next run then publishes once
# the columns hashed per table (no local paths: moving the input file changes nothing)
_TABLES: tuple[tuple[str, TableSpec, tuple[str, ...]], ...] = (
    ("captions", CAPTIONS, (col.caption_id, col.clip_id, col.split, col.caption, col.source)),
    ("accepted", CORPUS, tuple(CORPUS.columns)),
    ("rejected", GATE_REJECTED, tuple(GATE_REJECTED.columns)),
)
IDENTITY_KEYS = ("name", "model", "model_revision", "prompt_versions", "gate_version", "license")


def _table_digest(path: Path, columns: tuple[str, ...]) -> str:
    """Row count and the XOR of every row's MD5 (rows are unique by their key, so no two
    identical rows cancel): independent of row order and of how the file is chunked."""
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        fields = ", ".join(f"{c} := {c}" for c in columns)
        n, x = con.execute(
            f"SELECT count(*), coalesce(bit_xor(md5_number(to_json(struct_pack({fields})))), 0) "
            "FROM read_parquet(?)", [str(path)]).fetchone()
    finally:
        con.close()
    return f"{n}:{x}"


def content_hash(captions: Path, accepted: Path, rejected: Path, info: dict[str, Any]) -> str:
    """The hash of what a version built from these tables and this provenance would hold."""
    h = hashlib.sha256(f"robustclap-content-{RECIPE}".encode())
    files = {"captions": captions, "accepted": accepted, "rejected": rejected}
    for name, _spec, columns in _TABLES:
        h.update(f"\x1f{name}={_table_digest(files[name], columns)}".encode())
    identity = {k: info.get(k) for k in IDENTITY_KEYS}
    h.update(json.dumps(identity, sort_keys=True, default=str).encode())
    return f"sha256:{h.hexdigest()}"


def version_hash(version_dir: Path) -> str | None:
    """The content hash of a published version: the one its manifest records, or (for a
    version published before hashes were recorded) computed from its files; None when it
    cannot be told."""
    try:
        manifest = json.loads((version_dir / layout.MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    recorded = manifest.get("content_hash")
    if isinstance(recorded, dict) and recorded.get("recipe") == RECIPE:
        return recorded.get("sha256")
    paths = [version_dir / f for f in (layout.CAPTIONS_FILE, layout.ACCEPTED_FILE,
                                       layout.REJECTED_FILE)]
    if not all(p.is_file() for p in paths):
        return None
    try:
        return content_hash(*paths, manifest)
    except (duckdb.Error, OSError):  # an unreadable old version is not "the same content"
        return None
