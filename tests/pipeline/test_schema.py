import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import (
    CANDIDATES,
    CAPTIONS,
    INGEST_REJECTS,
    META_VERSION,
    SCHEMA_VERSION,
    TABLES,
    read_table,
    write_table,
)

ROW = {"caption_id": "a", "clip_id": "c", "split": "train", "caption": "A dog barks.",
       "source": "t", "source_file": "f.csv", "source_row": 0}


def test_every_table_is_registered_with_unique_columns():
    for name, spec in TABLES.items():
        assert spec.name == name
        assert len(spec.columns) == len(set(spec.columns))
    assert {"captions", "ingest_rejects", "candidates", "corpus"} <= set(TABLES)


def test_roundtrip_stores_schema_version(tmp_path):
    path = write_table(CAPTIONS, [ROW], tmp_path / "c.parquet")
    meta = pq.read_schema(path).metadata
    assert meta[META_VERSION].decode() == SCHEMA_VERSION
    assert read_table(CAPTIONS, path).to_pylist() == [ROW]
    assert [p.name for p in tmp_path.iterdir()] == ["c.parquet"]  # no temporary left


def test_wrong_table_or_version_is_refused(tmp_path):
    path = write_table(CAPTIONS, [ROW], tmp_path / "c.parquet")
    with pytest.raises(RobustclapError, match="expected a 'candidates' table"):
        read_table(CANDIDATES, path)
    table = pq.read_table(path)
    table = table.replace_schema_metadata({**table.schema.metadata, META_VERSION: b"999"})
    pq.write_table(table, tmp_path / "old.parquet")
    with pytest.raises(RobustclapError, match="schema version '999'"):
        read_table(CAPTIONS, tmp_path / "old.parquet")


def test_missing_column_is_a_clear_error(tmp_path):
    with pytest.raises(RobustclapError, match="missing columns"):
        write_table(INGEST_REJECTS, pa.table({"source": ["x"]}), tmp_path / "r.parquet")


def test_types_are_enforced(tmp_path):
    bad = dict(ROW, source_row="not a number")
    with pytest.raises((pa.ArrowInvalid, ValueError)):
        write_table(CAPTIONS, [bad], tmp_path / "c.parquet")
    assert not list(tmp_path.iterdir())
