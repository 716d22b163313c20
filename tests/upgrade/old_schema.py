"""Tables in the layouts of schema version 1, written the way robustclap of that time wrote them.

The layouts are spelled out here, not derived from the schema module under test: version 1's
`candidates` lacked `feedback`, its `regenerate` held only (caption_id, level) (both added by
version 2, commit 763d021); `gate_scores` held the first gate's scores plus the ten event
alignment columns (added by 4facad1, still version 1; `early` files lack those too) and none of
the scores added since. Every other table is as today.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from robustclap.corpus.versions import file_entries

V1_CANDIDATES = [
    "caption_id", "clip_id", "split", "source", "caption", "level", "candidate", "input_text",
    "paraphrase", "status", "fail_reason", "raw_reply", "model", "model_revision",
    "prompt_version", "sampling", "seed", "attempt", "finish_reason", "prompt_tokens",
    "completion_tokens", "latency_s", "from_cache", "run_id",
]
V1_REGENERATE = ["caption_id", "level"]
FIRST_SCORES = [
    "sbert_cos", "bertscore_p", "bertscore_r", "bertscore_f1", "content_recall",
    "content_novelty", "token_edit", "structure_edit", "number_diff", "negation_diff",
    "order_violations", "role_swaps", "reattachments", "norm_identical", "length_ratio",
    "repeat_frac", "english_share", "n_sentences", "list_like", "meta_text", "echo",
]
ALIGNMENT_COLUMNS = [
    "align_missing", "align_added", "align_synonyms", "align_synonym_sim", "align_roles",
    "extra_sentences", "definition", "fragment", "same_content", "alignment",
]
_SCORE_KEY = ["caption_id", "level", "candidate", "status"]
_SCORE_TAIL = ["rank_score", "passed", "failed_gates", "gate_version"]
V1_GATE_SCORES = _SCORE_KEY + FIRST_SCORES + ALIGNMENT_COLUMNS + _SCORE_TAIL
V1_GATE_SCORES_EARLY = _SCORE_KEY + FIRST_SCORES + _SCORE_TAIL
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
    keep = {"candidates": V1_CANDIDATES, "regenerate": V1_REGENERATE,
            "gate_scores": V1_GATE_SCORES_EARLY if early else V1_GATE_SCORES}.get(name)
    if keep is not None:
        table = table.select(keep)
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
