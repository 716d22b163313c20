"""The Parquet files a Hugging Face dataset reads: one file per (config, split).

`datasets.load_dataset(folder)` reads the files the card's `configs:` names; without them it
reads every Parquet file of the folder as one table. So a version also holds
`data/<config>/<split>.parquet` for the accepted, rejected and candidate tables, split by the
clip split, streamed a batch at a time (bounded memory at millions of rows). The top-level
files the dashboard and the training loader read stay as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from robustclap.contracts import layout
from robustclap.contracts.schema import (
    CANDIDATES,
    CORPUS,
    GATE_REJECTED,
    META_TABLE,
    META_VERSION,
    SCHEMA_VERSION,
    TableSpec,
    col,
    read_batches,
)

# config name -> (table, where its rows come from inside a version folder)
HUB_CONFIGS: dict[str, tuple[TableSpec, str]] = {
    "accepted": (CORPUS, layout.ACCEPTED_FILE),
    "rejected": (GATE_REJECTED, layout.REJECTED_FILE),
    "candidates": (CANDIDATES, f"{layout.CANDIDATES_DIR}/*.parquet"),
}
# the Hub's split names for ours; other names pass through made safe for the Hub
_SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
_SPLIT_ORDER = ("train", "validation", "test")
_BATCH_ROWS = 8192
_ROW_GROUP_ROWS = 32_768  # rows held before writing, all splits together


def hub_split(split: str) -> str:
    """Our split name as the Hub spells it (val -> validation)."""
    return _SPLIT_NAMES.get(split) or re.sub(r"\W+", "_", split).strip("_") or "unnamed"


@dataclass
class ConfigFiles:
    """Files and row counts of one config, splits in the Hub's usual order."""

    name: str
    table: TableSpec
    rows: dict[str, int] = field(default_factory=dict)

    def path(self, split: str) -> str:
        return f"{layout.HUB_DATA_DIR}/{self.name}/{split}.parquet"

    def splits(self) -> list[str]:
        return ordered_splits(self.rows)


def ordered_splits(names: object) -> list[str]:
    """train, validation, test first (the Hub's usual order), then any other split by name."""
    names = set(names)  # type: ignore[arg-type]
    return [s for s in _SPLIT_ORDER if s in names] + sorted(names - set(_SPLIT_ORDER))


def _sources(version_dir: Path, pattern: str) -> list[Path]:
    return sorted(version_dir.glob(pattern))


def write_config(version_dir: Path, name: str) -> ConfigFiles:
    """Split one table of `version_dir` into data/<name>/<split>.parquet; returns the counts.

    A split with no rows gets no file (`datasets` cannot read a zero-row Parquet file).
    """
    spec, pattern = HUB_CONFIGS[name]
    out = ConfigFiles(name, spec)
    meta = {META_TABLE: spec.name.encode(), META_VERSION: SCHEMA_VERSION.encode()}
    schema = spec.schema.with_metadata(meta)
    writers: dict[str, pq.ParquetWriter] = {}
    pending: dict[str, list[pa.Table]] = {}

    def flush(hub: str) -> None:
        if pending.get(hub):
            writers[hub].write_table(pa.concat_tables(pending[hub]))
            pending[hub] = []

    try:
        for src in _sources(version_dir, pattern):
            for batch in read_batches(spec, src, _BATCH_ROWS):  # an older table upgraded
                table = batch.cast(schema)
                for split in pc.unique(table[col.split]).to_pylist():
                    hub = hub_split(split)
                    if hub not in writers:
                        target = version_dir / out.path(hub)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        writers[hub] = pq.ParquetWriter(target, schema, compression="zstd")
                    part = table.filter(pc.equal(table[col.split], split))
                    pending.setdefault(hub, []).append(part)
                    out.rows[hub] = out.rows.get(hub, 0) + part.num_rows
                # rows held across all splits stay bounded (whatever the corpus size), and
                # row groups stay large: a writer keeps every group's statistics until close
                if sum(t.num_rows for ts in pending.values() for t in ts) >= _ROW_GROUP_ROWS:
                    for hub in writers:
                        flush(hub)
        for hub in writers:
            flush(hub)
    finally:
        for w in writers.values():
            w.close()
    return out


def write_hub_files(version_dir: Path) -> list[ConfigFiles]:
    """Every config's split files; configs are listed even when they hold no rows."""
    return [write_config(version_dir, name) for name in HUB_CONFIGS]
