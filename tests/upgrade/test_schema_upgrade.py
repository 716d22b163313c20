"""Tables of schema version 1 read as the current schema; newer ones are refused."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import (
    CANDIDATES,
    CORPUS,
    GATE_SCORES,
    META_DEFAULTED,
    META_UPGRADED_FROM,
    META_VERSION,
    REGENERATE,
    SCHEMA_VERSION,
    read_batches,
    read_dir,
    read_table,
    write_table,
)
from robustclap.dashboard.synthetic import write_version

from .old_schema import (
    ALIGNMENT_COLUMNS,
    V1_CANDIDATES,
    V1_GATE_SCORES,
    V1_GATE_SCORES_EARLY,
    folder_to_v1,
    schema_version,
    to_v1,
)


@pytest.fixture(scope="module")
def version(tmp_path_factory):
    return write_version(tmp_path_factory.mktemp("corpus") / "demo", 1, 30, seed=3)


def test_v1_candidates_read_with_feedback_null_and_recorded(version, tmp_path):
    shard = sorted((version / "candidates").glob("*.parquet"))[0]
    current = read_table(CANDIDATES, shard)
    old = tmp_path / shard.name
    old.write_bytes(shard.read_bytes())
    assert to_v1(old)
    assert schema_version(old) == "1" and pq.read_schema(old).names == V1_CANDIDATES
    table = read_table(CANDIDATES, old)
    assert table.schema.names == CANDIDATES.columns
    assert table.column("feedback").null_count == table.num_rows
    assert table.drop_columns("feedback").equals(current.drop_columns("feedback"))
    meta = table.schema.metadata
    assert meta[META_UPGRADED_FROM] == b"1" and meta[META_DEFAULTED] == b"feedback"
    # only some columns, and every column a default: the row count is kept
    assert read_table(CANDIDATES, old, ["feedback"]).num_rows == table.num_rows
    batches = list(read_batches(CANDIDATES, old, 7))
    assert sum(b.num_rows for b in batches) == table.num_rows
    assert all(b.schema.names == CANDIDATES.columns for b in batches)


def test_rewritten_upgraded_table_is_current_and_keeps_the_record(version, tmp_path):
    old = tmp_path / "regenerate.parquet"
    old.write_bytes((version / "regenerate.parquet").read_bytes())
    to_v1(old)
    table = read_table(REGENERATE, old)
    assert table.column("previous").null_count == table.num_rows
    out = write_table(REGENERATE, table, tmp_path / "again.parquet")
    meta = pq.read_schema(out).metadata
    assert meta[META_VERSION] == SCHEMA_VERSION.encode()
    assert meta[META_UPGRADED_FROM] == b"1"
    assert meta[META_DEFAULTED] == b"previous,feedback"


@pytest.mark.parametrize("early", [False, True])
def test_v1_gate_scores_before_and_after_the_alignment(version, tmp_path, early):
    old = tmp_path / "scores.parquet"
    old.write_bytes((version / "scores.parquet").read_bytes())
    to_v1(old, early=early)
    table = read_table(GATE_SCORES, old)
    assert table.schema.names == GATE_SCORES.columns
    kept = V1_GATE_SCORES_EARLY if early else V1_GATE_SCORES
    current = read_table(GATE_SCORES, version / "scores.parquet")
    assert table.select(kept).equals(current.select(kept))
    added = [c for c in GATE_SCORES.columns if c not in kept]
    alignment = set(ALIGNMENT_COLUMNS)
    assert alignment <= set(added) if early else not alignment & set(added)
    assert all(table.column(c).null_count == table.num_rows for c in added)
    assert table.schema.metadata[META_DEFAULTED].decode().split(",") == added


def test_current_gate_scores_without_a_later_score_column_reads_it_as_null(version, tmp_path):
    """A score column added without a version bump: files written before it still read."""
    table = pq.read_table(version / "scores.parquet")
    first_only = table.select(
        [c for c in table.column_names if c not in ALIGNMENT_COLUMNS]
        ).replace_schema_metadata(table.schema.metadata)
    path = tmp_path / "scores.parquet"
    pq.write_table(first_only, path)
    got = read_table(GATE_SCORES, path)
    assert got.column("align_missing").null_count == got.num_rows
    assert got.column("sbert_cos").equals(table.column("sbert_cos"))
    pq.write_table(table.drop_columns("sbert_cos"), path)  # a first-gate score stays required
    with pytest.raises(RobustclapError, match="missing column 'sbert_cos'"):
        read_table(GATE_SCORES, path)


def test_mixed_folder_of_shards_reads_as_one_table(version, tmp_path):
    folder = tmp_path / "candidates"
    folder.mkdir()
    shards = sorted((version / "candidates").glob("*.parquet"))
    for s in shards:
        (folder / s.name).write_bytes(s.read_bytes())
    to_v1(folder / shards[0].name)
    table = read_dir(CANDIDATES, folder)
    assert table.num_rows == sum(pq.ParquetFile(s).metadata.num_rows for s in shards)
    assert table.schema.metadata[META_UPGRADED_FROM] == b"1"


def test_v1_missing_a_column_it_had_is_still_refused(version, tmp_path):
    old = tmp_path / "accepted.parquet"
    old.write_bytes((version / "accepted.parquet").read_bytes())
    to_v1(old)
    table = pq.read_table(old)
    pq.write_table(table.drop_columns("paraphrase"), old)
    with pytest.raises(RobustclapError, match="missing column 'paraphrase'"):
        read_table(CORPUS, old)


def test_newer_version_is_refused_with_one_message_naming_both(version, tmp_path):
    table = pq.read_table(version / "accepted.parquet")
    newer = tmp_path / "accepted.parquet"
    meta = {**table.schema.metadata, META_VERSION: b"3"}
    pq.write_table(table.replace_schema_metadata(meta), newer)
    with pytest.raises(RobustclapError) as err:
        read_table(CORPUS, newer)
    msg = str(err.value)
    assert "\n" not in msg and "'3'" in msg and f"'{SCHEMA_VERSION}'" in msg
    assert "newer robustclap" in msg


def test_folder_helper_rewrites_a_version_with_its_checksums(tmp_path):
    from robustclap.corpus.versions import check_version

    v = write_version(tmp_path / "demo", 1, 12, seed=4)
    done = folder_to_v1(v)
    assert {p.name for p in done} >= {"accepted.parquet", "scores.parquet"}
    assert check_version(v, deep=True) == []
