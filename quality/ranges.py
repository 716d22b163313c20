"""Sorted streams over the candidate shards, one key range at a time.

DuckDB's ORDER BY and DISTINCT hold every row they see (up to the memory limit, and the
process keeps the pages afterwards), so one query over all candidates grows with the run:
at 1,000,000 rows the pass-2 sort alone took ~400 MiB. Splitting the sort key into
consecutive ranges of about `sort_rows` rows, and querying them one after the other, yields
the same rows in the same global order while only one range is ever held. Each range
re-scans the shards, but the range filter lets DuckDB skip row groups outside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Range = tuple[str | None, str | None]  # [low, high): None = unbounded
SAMPLE_PER_RANGE = 200  # sampled keys per range: ranges come out within ~10% of sort_rows


def key_ranges(con: Any, files: list[str], key: str, rows: int, sort_rows: int) -> list[Range]:
    """Consecutive ranges of `key` with about `sort_rows` rows each, cut at sampled keys.

    Where the cuts fall changes only how much each query holds, never what is streamed.
    """
    parts = -(-rows // max(sort_rows, 1))
    if parts <= 1:
        return [(None, None)]
    sample = sorted(k for (k,) in con.execute(
        f"SELECT {key} FROM read_parquet(?) "
        f"USING SAMPLE reservoir({SAMPLE_PER_RANGE * parts} ROWS) REPEATABLE (0)", [files],
    ).fetchall() if k is not None)
    cuts = sorted({sample[len(sample) * i // parts] for i in range(1, parts)} if sample else ())
    edges: list[str | None] = [None, *cuts, None]
    return list(zip(edges[:-1], edges[1:], strict=True))


def range_filter(key: str, part: Range) -> tuple[str, list[str]]:
    """SQL condition and parameters for one range; NULL keys (sorted last) go to the last."""
    low, high = part
    conds, params = [], []
    if low is not None:
        conds.append(f"{key} >= ?")
        params.append(low)
    if high is not None:
        conds.append(f"{key} < ?")
        params.append(high)
    cond = " AND ".join(conds) or "TRUE"
    return (f"({cond} OR {key} IS NULL)" if high is None else f"({cond})"), params


def range_batches(con: Any, sql: str, files: list[str], key: str, parts: list[Range],
                  batch_rows: int) -> Iterator[list[dict]]:
    """Rows of `sql` (its `{where}` is filled with each range's condition), range by range.

    Batches hold exactly `batch_rows` rows (the last one excepted) across range boundaries,
    as one query's reader gives them, so what consumers batch (and count) stays the same.
    """
    pending: list[dict] = []
    for part in parts:
        cond, params = range_filter(key, part)
        reader = con.sql(sql.format(where=cond), params=[files, *params]).to_arrow_reader(
            batch_rows)
        for batch in reader:
            pending.extend(batch.to_pylist())
            while len(pending) >= batch_rows:
                yield pending[:batch_rows]
                pending = pending[batch_rows:]
        reader.close()
    if pending:
        yield pending
