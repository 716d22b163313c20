"""`robustclap migrate` rewrites a folder of schema-1 tables at the current version, at once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import robustclap.corpus.migrate as migrate_mod
from robustclap.cli import app
from robustclap.contracts.schema import (
    CANDIDATES,
    META_EXTRA,
    META_UPGRADED_FROM,
    META_VERSION,
    SCHEMA_VERSION,
    read_dir,
)
from robustclap.corpus.versions import check_version
from robustclap.dashboard.corpus import list_versions, open_version
from robustclap.dashboard.synthetic import write_version

from .old_schema import folder_to_v1, schema_version

runner = CliRunner()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus" / "demo"
    write_version(root, 1, 30, seed=8)
    folder_to_v1(root / "v1", early=True)
    write_version(root, 2, 30, seed=9)  # current; `latest` points here
    return root


def _tables(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): schema_version(p)
            for p in folder.rglob("*.parquet") if not p.is_symlink()}


def test_migrate_a_corpus_folder(corpus: Path) -> None:
    shard = sorted((corpus / "v1" / "candidates").glob("*.parquet"))[0]
    key = pq.read_schema(shard).metadata.get(META_EXTRA)
    before = read_dir(CANDIDATES, corpus / "v1" / "candidates")
    dry = runner.invoke(app, ["migrate", str(corpus), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.output)
    assert not planned["migrated"] and "v1/scores.parquet" in planned["tables"]
    assert not any(t.startswith("v2/") for t in planned["tables"])
    assert set(_tables(corpus).values()) == {"1", SCHEMA_VERSION}  # nothing changed yet

    res = runner.invoke(app, ["migrate", str(corpus)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["migrated"] and out["manifests"] == ["v1/manifest.json"]
    assert set(_tables(corpus).values()) == {SCHEMA_VERSION}
    assert check_version(corpus / "v1", deep=True) == []  # new sizes and checksums
    manifest = json.loads((corpus / "v1" / "manifest.json").read_text())
    record = manifest["migrated"][-1]
    assert record["files"]["scores.parquet"]["from"] == "1"
    assert os.readlink(corpus / "latest") == "v2" and list_versions(corpus) == [1, 2]
    assert not [p for p in corpus.parent.iterdir() if p.name.startswith(".migrating-")]
    meta = pq.read_schema(shard).metadata
    assert meta[META_VERSION] == SCHEMA_VERSION.encode() and meta[META_UPGRADED_FROM] == b"1"
    assert meta.get(META_EXTRA) == key  # the shard's content key survives
    after = read_dir(CANDIDATES, corpus / "v1" / "candidates")
    assert after.drop_columns("feedback").equals(before.drop_columns("feedback"))
    open_version(corpus, 1)  # the dashboard reads it without upgraded copies
    again = json.loads(runner.invoke(app, ["migrate", str(corpus)]).output)
    assert not again["migrated"] and again["message"].startswith("every table is at")


def test_a_failed_migration_leaves_the_old_folder(corpus: Path, monkeypatch) -> None:
    before = _tables(corpus)

    def broken(tmp, done):  # noqa: ANN001, ANN202
        raise OSError("disk full")

    monkeypatch.setattr(migrate_mod, "_fix_manifests", broken)
    with pytest.raises(OSError, match="disk full"):
        migrate_mod.migrate(corpus)
    assert _tables(corpus) == before
    assert not [p for p in corpus.parent.iterdir() if p.name.startswith(".migrating-")]


def test_the_two_rename_fallback_also_migrates(corpus: Path, monkeypatch) -> None:
    monkeypatch.setattr(migrate_mod, "_exchange", lambda a, b: False)
    assert migrate_mod.migrate(corpus / "v1")["migrated"]
    assert set(_tables(corpus / "v1").values()) == {SCHEMA_VERSION}
    assert check_version(corpus / "v1", deep=True) == []


def test_migrate_refuses_a_newer_table_and_a_link(corpus: Path) -> None:
    path = corpus / "v2" / "accepted.parquet"
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata,
                                                  META_VERSION: b"7"}), path)
    res = runner.invoke(app, ["migrate", str(corpus)])
    assert res.exit_code != 0 and "newer robustclap" in str(res.exception)
    assert schema_version(corpus / "v1" / "scores.parquet") == "1"  # nothing rewritten
    res = runner.invoke(app, ["migrate", str(corpus / "latest")])
    assert "is a link" in str(res.exception)
