"""A table file is what its columns say, not only what its metadata claims.

`check_file` used to trust the table name and schema version stored in a Parquet file; a shard
carrying the right metadata but a missing paraphrase column, a float candidate index, a string
level, null keys or an unknown status then ended in a DuckDB/Arrow traceback, or (status "OK")
silently turned every row into a generation failure. Each of these is now one clear message.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from robustclap.contracts.errors import RobustclapError

# Columns whose values are a closed set: anything else is a corrupt file, not data.
CLOSED_VALUES: dict[str, frozenset[str]] = {"status": frozenset({"ok", "failed"})}


def _null_count(pf: pq.ParquetFile, index: int) -> int | None:
    """Nulls of one column from the row-group statistics (None when a group has none)."""
    total = 0
    meta = pf.metadata
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(index).statistics
        if stats is None or not stats.has_null_count:
            return None
        total += stats.null_count
    return total


def check_columns(spec, path: str | Path) -> None:  # noqa: ANN001 - a schema.TableSpec
    """Every column of the spec is present with its type; required columns hold no nulls;
    closed-set columns hold only their values."""
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
    except (OSError, pa.ArrowException) as exc:
        raise RobustclapError(f"{path}: not a readable Parquet file ({exc})") from exc
    problems: list[str] = []
    for field in spec.schema:
        if field.name not in schema.names:
            problems.append(f"missing column {field.name!r}")
            continue
        found = schema.field(field.name).type
        if found != field.type:
            problems.append(f"column {field.name!r} is {found}, expected {field.type}")
    if problems:
        raise RobustclapError(f"{path}: not a valid {spec.name!r} table: " + "; ".join(problems))
    names = pf.schema_arrow.names
    leaves = {pf.schema.column(i).path: i for i in range(len(pf.schema))}
    for field in spec.schema:
        if field.nullable:
            continue
        nulls = _null_count(pf, leaves[field.name]) if field.name in leaves else None
        if nulls is None:
            nulls = pq.read_table(path, columns=[field.name]).column(0).null_count
        if nulls:
            problems.append(f"{nulls} null value(s) in required column {field.name!r}")
    for name, allowed in CLOSED_VALUES.items():
        if name in names and name in spec.schema.names:
            values = pc.unique(pq.read_table(path, columns=[name]).column(0)).to_pylist()
            bad = sorted(str(v) for v in values if v is not None and v not in allowed)
            if bad:
                problems.append(f"column {name!r} holds {bad[:5]}, allowed {sorted(allowed)}")
    if problems:
        raise RobustclapError(f"{path}: not a valid {spec.name!r} table: " + "; ".join(problems))
