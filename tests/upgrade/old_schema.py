"""Tables in the layouts of schema version 1, written the way robustclap of that time wrote them.

The layouts are spelled out here, not derived from the schema module under test: version 1's
`candidates` lacked `feedback`, its `regenerate` held only (caption_id, level) (both added by
version 2, commit 763d021), and `gate_scores` written before the event alignment (4facad1, still
version 1) lacked the ten alignment columns. Every other table is as today.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from robustclap.flows.version_check import file_entries

V1_CANDIDATES = [
    "caption_id", "clip_id", "split", "source", "caption", "level", "candidate", "input_text",
    "paraphrase", "status", "fail_reason", "raw_reply", "model", "model_revision",
    "prompt_version", "sampling", "seed", "attempt", "finish_reason", "prompt_tokens",
    "completion_tokens", "latency_s", "from_cache", "run_id",
]
V1_REGENERATE = ["caption_id", "level"]
ALIGNMENT_COLUMNS = [
    "align_missing", "align_added", "align_synonyms", "align_synonym_sim", "align_roles",
    "extra_sentences", "definition", "fragment", "same_content", "alignment",
]
TABLE = b"robustclap.table"
VERSION = b"robustclap.schema_version"


def to_v1(path: Path, early: bool = False) -> bool:
    """Rewrite one robustclap table file in its version-1 layout (`early`: gate scores from
    before the event alignment); False when the file is not a robustclap table."""
    table = pq.read_table(path)
    meta = dict(table.schema.metadata or {})
    name = meta.get(TABLE, b"").decode()
    if not name:
        return False
    keep = {"candidates": V1_CANDIDATES, "regenerate": V1_REGENERATE}.get(name)
    if keep is not None:
        table = table.select(keep)
    elif name == "gate_scores" and early:
        table = table.drop_columns(ALIGNMENT_COLUMNS)
    meta[VERSION] = b"1"
    pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd")
    return True


def folder_to_v1(folder: Path, early: bool = False) -> list[Path]:
    """Every robustclap table under `folder` in the version-1 layout; a published version's
    manifest lists the files' new sizes and checksums (as a version-1 publish wrote them)."""
    done = [p for p in sorted(Path(folder).rglob("*.parquet")) if to_v1(p, early)]
    for manifest in Path(folder).rglob("manifest.json"):
        data = json.loads(manifest.read_text())
        if isinstance(data, dict) and "checksums" in data:
            data["checksums"] = file_entries(manifest.parent)
            manifest.write_text(json.dumps(data, indent=2))
    return done


def schema_version(path: Path) -> str:
    return (pq.read_schema(path).metadata or {}).get(VERSION, b"").decode()
