"""Rewrite one table file at the current schema (publish, migrate, the dashboard's copies).

Readers upgrade older tables in memory (`schema.read_table`); a writer that would otherwise
copy or link such a file (publish, `robustclap migrate`) writes its upgraded table instead, so
what robustclap writes is always the current version with every column.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from robustclap.contracts.fsmode import default_mode
from robustclap.contracts.schema import (
    META_DEFAULTED,
    META_EXTRA,
    META_TABLE,
    META_UPGRADED_FROM,
    META_VERSION,
    SCHEMA_VERSION,
    TABLES,
    TableSpec,
    read_batches,
    read_defaults,
    read_table,
    write_table,
)

_BATCH_ROWS = 65_536  # rows held at once while a table is rewritten


def table_version(path: Path) -> tuple[str, str] | None:
    """(table name, schema version) of a robustclap table file; None for any other file."""
    if Path(path).suffix != ".parquet":
        return None
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):
        return None
    name = meta.get(META_TABLE, b"").decode()
    return (name, meta.get(META_VERSION, b"").decode()) if name in TABLES else None


def needs_upgrade(path: Path) -> bool:
    """Whether a robustclap table file is of an older version or lacks a column that reads as
    its default; a file from a newer robustclap (or a broken one) raises the readers' error."""
    found = table_version(path)
    if found is None:
        return False
    return found[1] != SCHEMA_VERSION or bool(read_defaults(TABLES[found[0]], path))


def _write_streamed(spec: TableSpec, src: Path, dst: Path, extra: bytes | None) -> bytes:
    """Rewrite `src` upgraded into `dst` a batch at a time (bounded memory at millions of
    rows), atomically like `write_table`; returns the defaulted columns it recorded."""
    meta = {META_TABLE: spec.name.encode(), META_VERSION: SCHEMA_VERSION.encode()}
    if extra is not None:
        meta[META_EXTRA] = extra
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    os.chmod(tmp, default_mode(is_dir=False))
    writer: pq.ParquetWriter | None = None
    defaulted = b""
    try:
        for batch in read_batches(spec, src, _BATCH_ROWS):
            if writer is None:
                got = batch.schema.metadata or {}
                defaulted = got.get(META_DEFAULTED, b"")
                meta.update({k: got[k] for k in (META_UPGRADED_FROM, META_DEFAULTED) if k in got})
                writer = pq.ParquetWriter(tmp, spec.schema.with_metadata(meta),
                                          compression="zstd")
            writer.write_table(batch.replace_schema_metadata(meta))
        if writer is None:  # no rows: the whole (empty) table through write_table
            table = read_table(spec, src)
            write_table(spec, table, dst, extra=extra.decode() if extra is not None else None)
            return (table.schema.metadata or {}).get(META_DEFAULTED, b"")
        writer.close()
        writer = None
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    finally:
        if writer is not None:
            writer.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return defaulted


def upgrade_file(src: Path, dst: Path) -> dict[str, Any] | None:
    """Write `src`'s table, upgraded, to `dst` (atomically, streamed; `dst` may be `src`),
    keeping its content key; returns {"from": version, "defaulted": [...]}, or None when
    `src` needs no upgrade or is not a robustclap table (nothing written)."""
    if not needs_upgrade(src):
        return None
    name, version = table_version(src)  # type: ignore[misc] - needs_upgrade: a table
    extra = (pq.read_schema(src).metadata or {}).get(META_EXTRA)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    defaulted = _write_streamed(TABLES[name], Path(src), Path(dst), extra).decode()
    return {"from": version, "defaulted": [c for c in defaulted.split(",") if c]}
