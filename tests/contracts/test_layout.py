"""The on-disk layout: version folders, shard names and the Version paths readers use."""

from __future__ import annotations

import json
import os

import pytest

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError


def test_versions_lists_only_vn_folders_in_numeric_order(tmp_path):
    for name in ("v10", "v2", "v1", "vx", "v", "v3.tmp", ".publishing-1-ab"):
        (tmp_path / name).mkdir()
    os.symlink("v10", tmp_path / layout.LATEST)
    assert layout.versions(tmp_path) == [1, 2, 10]
    assert layout.newest_version_dir(tmp_path) == tmp_path / "v10"
    assert layout.versions(tmp_path / "missing") == []
    assert layout.newest_version_dir(tmp_path / "missing") is None


def test_shard_names_sort_by_round_then_index(tmp_path):
    paths = [layout.shard_file(tmp_path, r, i) for r in (0, 1, 12) for i in (0, 7, 12345)]
    assert [p.name for p in paths[:2]] == ["r00-00000.parquet", "r00-00007.parquet"]
    assert all(p.parent == tmp_path / layout.CANDIDATES_DIR for p in paths)
    assert all(p.name.startswith(layout.shard_prefix(12)) for p in paths[-3:])
    for p in reversed(paths):
        p.parent.mkdir(exist_ok=True)
        p.touch()
    assert layout.candidate_shards(tmp_path) == paths
    assert layout.regeneration_shards(tmp_path) == paths[3:]  # round 0 is kept


def test_version_paths_and_readers(tmp_path):
    v = layout.Version(tmp_path, 3)
    v.path.mkdir()
    assert v.accepted == str(tmp_path / "v3" / "accepted.parquet")
    assert (v.manifest(), v.gate_config(), v.evaluation(), v.generation_manifests()) == (
        {}, {}, None, [])
    (v.path / layout.MANIFEST_FILE).write_text(json.dumps({"version": 3}))
    (v.path / layout.GATE_CONFIG_FILE).write_text("gates: {level1: {sbert_min: 0.8}}\n")
    ev = layout.finetune_dir(tmp_path, 3) / layout.EVALUATION_FILE
    ev.parent.mkdir(parents=True)
    ev.write_text('{"clips": 4}')
    assert v.manifest() == {"version": 3}
    assert v.gate_config()["gates"]["level1"]["sbert_min"] == 0.8
    assert v.evaluation() == {"clips": 4}
    (v.path / layout.MANIFEST_FILE).write_text("{not json")
    with pytest.raises(RobustclapError, match="not valid JSON"):
        v.manifest()
    (v.path / layout.GATE_CONFIG_FILE).write_text("a: 1\na: 2\n")
    with pytest.raises(RobustclapError, match="duplicate key 'a'"):
        v.gate_config()


def test_work_folders_of_the_flow(tmp_path):
    gen, gate = layout.work_dirs(tmp_path, "c")
    assert (gen, gate) == (tmp_path / "c" / "generated", tmp_path / "c" / "gated")
    assert layout.work_score_cache(tmp_path, "c") == tmp_path / "c" / "score_cache.sqlite"
