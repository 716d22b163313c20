"""Key ranges: streaming range by range gives exactly the rows and order of one sort."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robustclap.contracts.schema import CORPUS, col, read_table
from robustclap.quality.io import TableWriter
from robustclap.quality.ranges import key_ranges, range_batches


@pytest.fixture()
def shards(tmp_path) -> list[str]:
    """Two unsorted shards: repeated keys, keys that share prefixes, a NULL key."""
    rng = random.Random(0)
    keys = [f"k{rng.randrange(60):03d}" for _ in range(400)] + ["k", "k0", "é", None]
    rng.shuffle(keys)
    files = []
    for i, part in enumerate((keys[:150], keys[150:])):
        path = tmp_path / f"s{i}.parquet"
        pq.write_table(pa.table({"key": part, "n": list(range(len(part)))}), path)
        files.append(str(path))
    return files


@pytest.mark.parametrize("sort_rows", [1, 7, 50, 10_000])
def test_ranges_stream_every_row_once_in_sorted_order(shards, sort_rows):
    con = duckdb.connect()
    sql = "SELECT key, n FROM read_parquet(?) WHERE {where} ORDER BY key, n"
    parts = key_ranges(con, shards, "key", 404, sort_rows)
    batches = list(range_batches(con, sql, shards, "key", parts, 16))
    got = [(r["key"], r["n"]) for rows in batches for r in rows]
    whole = con.execute("SELECT key, n FROM read_parquet(?) ORDER BY key, n",
                        [shards]).fetchall()
    assert got == whole
    assert [len(b) for b in batches] == [16] * 25 + [4]  # batches ignore range boundaries
    assert (len(parts) == 1) == (sort_rows >= 404)


def test_table_writer_writes_row_groups_of_the_set_size(tmp_path):
    rows = [{col.caption_id: f"c{i}", col.clip_id: "x", col.split: "train", col.source: "s",
             col.caption: "a", col.level: 1, col.candidate: i, col.paraphrase: "b", col.rank: 0,
             col.gate_version: "v"} for i in range(25)]
    with TableWriter(CORPUS, tmp_path / "t.parquet", flush_rows=4, row_group_rows=10) as w:
        for i in range(0, 25, 3):
            w.write(rows[i:i + 3])
            assert w.rows == min(i + 3, 25)
    meta = pq.ParquetFile(tmp_path / "t.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [12, 12, 1]
    assert read_table(CORPUS, tmp_path / "t.parquet").to_pylist() == rows
