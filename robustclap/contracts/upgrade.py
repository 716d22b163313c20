"""Rewrite one table file at the current schema (publish, migrate, the dashboard's copies).

Readers upgrade older tables in memory (`schema.read_table`); a writer that would otherwise
copy or link such a file (publish, `robustclap migrate`) writes its upgraded table instead, so
what robustclap writes is always the current version with every column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from robustclap.contracts.schema import (
    META_DEFAULTED,
    META_EXTRA,
    META_TABLE,
    META_VERSION,
    SCHEMA_VERSION,
    TABLES,
    read_defaults,
    read_table,
    write_table,
)


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


def upgrade_file(src: Path, dst: Path) -> dict[str, Any] | None:
    """Write `src`'s table, upgraded, to `dst` (atomically; `dst` may be `src`), keeping its
    content key; returns {"from": version, "defaulted": [...]}, or None when `src` needs no
    upgrade or is not a robustclap table (nothing written)."""
    if not needs_upgrade(src):
        return None
    name, version = table_version(src)  # type: ignore[misc] - needs_upgrade: a table
    extra = (pq.read_schema(src).metadata or {}).get(META_EXTRA)
    table = read_table(TABLES[name], src)
    write_table(TABLES[name], table, dst, extra=extra.decode() if extra is not None else None)
    defaulted = (table.schema.metadata or {}).get(META_DEFAULTED, b"").decode()
    return {"from": version, "defaulted": [c for c in defaulted.split(",") if c]}
