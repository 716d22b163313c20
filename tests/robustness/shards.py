"""Candidate shards for the bad-input tests: a valid one, and ways to break it while keeping
the table metadata that `write_table` stores (so only the columns tell)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from robustclap.contracts.schema import (
    CANDIDATES,
    META_TABLE,
    META_VERSION,
    SCHEMA_VERSION,
    col,
    to_arrow,
)


def valid_rows(n: int = 2) -> list[dict]:
    return [{
        col.caption_id: f"cap{i}", col.clip_id: f"clip{i}", col.split: "train",
        col.source: "t", col.caption: "A dog barks twice.", col.level: 1 + i % 2,
        col.candidate: 0, col.input_text: "A dog barks twice.",
        col.paraphrase: "Twice, a dog barks.", col.status: "ok", col.fail_reason: None,
        col.raw_reply: None, col.model: "m", col.model_revision: "r",
        col.prompt_version: "p", col.sampling: "{}", col.seed: i, col.attempt: 0,
        col.finish_reason: "stop", col.prompt_tokens: 10, col.completion_tokens: 5,
        col.latency_s: 0.1, col.from_cache: False, col.run_id: "run"} for i in range(n)]


def valid_table(n: int = 2) -> pa.Table:
    """Columns added to the schema later (nullable ones, e.g. feedback) are filled with null."""
    rows = valid_rows(n)
    for field in CANDIDATES.schema:
        if field.nullable:
            for r in rows:
                r.setdefault(field.name, None)
    return to_arrow(CANDIDATES, rows)


def write_raw(table: pa.Table, path: Path) -> Path:
    """Write with the candidates table's metadata but without any casting."""
    meta = {META_TABLE: b"candidates", META_VERSION: SCHEMA_VERSION.encode()}
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def _set(name: str, values: list, typ: pa.DataType | None = None) -> Callable[[pa.Table], pa.Table]:
    def change(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index(name)
        return t.set_column(i, name, pa.array(values, typ))
    return change


BROKEN_SHARDS: dict[str, tuple[Callable[[pa.Table], pa.Table], str]] = {
    "no paraphrase column": (lambda t: t.drop_columns([col.paraphrase]),
                             "missing column 'paraphrase'"),
    "float candidate index": (_set(col.candidate, [0.0, 1.5]), "column 'candidate' is double"),
    "string level": (_set(col.level, ["1", "2"]), "column 'level' is string"),
    "null level": (_set(col.level, [1, None], pa.int8()),
                   "null value(s) in required column 'level'"),
    "null caption_id": (_set(col.caption_id, ["a", None], pa.string()),
                        "null value(s) in required column 'caption_id'"),
    "status OK (upper case)": (_set(col.status, ["OK", "OK"]), "column 'status' holds ['OK']"),
    "status unknown": (_set(col.status, ["ok", "maybe"]), "column 'status' holds ['maybe']"),
    "int64 level": (_set(col.level, [1, 2], pa.int64()), "column 'level' is int64"),
    "seed as string": (_set(col.seed, ["1", "2"]), "column 'seed' is string"),
    "no status column": (lambda t: t.drop_columns([col.status]), "missing column 'status'"),
}
