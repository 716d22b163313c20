"""Issue 16, case 5: the gate trusts a shard's columns, not its metadata."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow as pa
import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import CANDIDATES, check_file

_spec = importlib.util.spec_from_file_location("robust_shards",
                                               Path(__file__).with_name("shards.py"))
shards = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shards)


def test_a_valid_shard_passes(tmp_path):
    path = shards.write_raw(shards.valid_table(), tmp_path / "ok.parquet")
    check_file(CANDIDATES, path)


@pytest.mark.parametrize("kind", sorted(shards.BROKEN_SHARDS))
def test_case5_broken_shard_is_one_message(tmp_path, kind):
    change, message = shards.BROKEN_SHARDS[kind]
    path = shards.write_raw(change(shards.valid_table()), tmp_path / "bad.parquet")
    with pytest.raises(RobustclapError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        check_file(CANDIDATES, path)


@pytest.mark.parametrize("kind", ["string level", "status OK (upper case)", "null caption_id"])
def test_case5_gate_cli_stops_with_a_message(tmp_path, cli, kind):
    change, message = shards.BROKEN_SHARDS[kind]
    gen = tmp_path / "gen"
    shards.write_raw(shards.valid_table(), gen / "candidates" / "r00-00000.parquet")
    shards.write_raw(change(shards.valid_table()), gen / "candidates" / "r00-00001.parquet")
    code, out = cli(["gate", "-i", gen, "--out", tmp_path / "gated"])
    assert code == 2 and "r00-00001.parquet" in out and message.split("'")[1] in out, out
    assert "Traceback" not in out


def test_case5_types_that_differ_between_shards(tmp_path, cli):
    gen = tmp_path / "gen"
    shards.write_raw(shards.valid_table(), gen / "candidates" / "r00-00000.parquet")
    other = shards.valid_table().cast(pa.schema(
        [f.with_type(pa.int32()) if f.name == "latency_s" else f
         for f in shards.valid_table().schema]), safe=False)
    shards.write_raw(other, gen / "candidates" / "r00-00001.parquet")
    code, out = cli(["gate", "-i", gen, "--out", tmp_path / "gated"])
    assert code == 2 and "column 'latency_s' is int32" in out, out
