"""Streaming writers for the gate's outputs, so a run never holds a whole table in memory.

Same contract as pipeline.schema.write_table (table name and schema version in the Parquet
metadata, atomic rename into place), but rows arrive in batches.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType

import pyarrow.parquet as pq

from pipeline.schema import META_TABLE, META_VERSION, SCHEMA_VERSION, TableSpec, to_arrow


class TableWriter:
    """Append row batches to one table file; it appears under `path` only on a clean close."""

    def __init__(self, spec: TableSpec, path: str | Path, flush_rows: int = 2048) -> None:
        self.spec = spec
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flush_rows = flush_rows
        self.rows_written = 0
        self._pending: list[dict] = []
        meta = {META_TABLE: spec.name.encode(), META_VERSION: SCHEMA_VERSION.encode()}
        self._schema = spec.schema.with_metadata(meta)
        fd, self._tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        os.close(fd)
        self._writer = pq.ParquetWriter(self._tmp, self._schema, compression="zstd")

    @property
    def rows(self) -> int:
        """Rows written so far, buffered ones included."""
        return self.rows_written + len(self._pending)

    def write(self, rows: list[dict]) -> None:
        self._pending.extend(rows)
        if len(self._pending) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            table = to_arrow(self.spec, self._pending).replace_schema_metadata(
                self._schema.metadata
            )
            self._writer.write_table(table)
            self.rows_written += table.num_rows
            self._pending = []

    def close(self) -> Path:
        self.flush()
        self._writer.close()
        with open(self._tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        self._writer.close()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
