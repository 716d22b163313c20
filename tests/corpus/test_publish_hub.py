"""A published version is a Hugging Face dataset: the card's YAML, both configs with their three
splits through the real `datasets` loader, no machine paths, umask-following permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from robustclap.contracts.schema import CORPUS, GATE_REJECTED, col, read_table
from robustclap.corpus.card import body
from robustclap.corpus.publish import publish

from .stage_dirs import make_stage_dirs


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("hub")
    gen, gate = make_stage_dirs(base)
    old = os.umask(0o022)
    try:
        return publish(base / "corpus" / "demo", "demo", gen, gate, {
            "source": {"input": str(base / "inputs" / "clotho_dev.csv")},
            "model": "/home/someone/models/tiny-llm", "model_revision": "local",
            "prompt_versions": {"1": "aaaa1111", "2": "bbbb2222"},
            "gate_version": "synthetic0001", "rounds": 1})
    finally:
        os.umask(old)


def _header(readme: str) -> dict:
    assert readme.startswith("---\n")
    return yaml.safe_load(readme.split("\n---\n", 1)[0][4:])


def test_card_header_is_what_the_hub_reads(published: dict) -> None:
    v = Path(published["path"])
    readme = (v / "README.md").read_text()
    head = _header(readme)
    assert head["license"] == "other"
    assert head["license_name"] == "clotho-tampere-university-non-commercial"
    assert head["language"] == ["en"] and "sentence-similarity" in head["task_categories"]
    configs = {c["config_name"]: c for c in head["configs"]}
    assert list(configs) == ["accepted", "rejected", "candidates"]
    assert configs["accepted"]["default"] is True
    for c in configs.values():
        assert [f["split"] for f in c["data_files"]] == ["train", "validation", "test"]
        for f in c["data_files"]:
            assert (v / f["path"]).is_file(), f["path"]
    # body: versions, counts and every column's meaning; no machine path anywhere
    assert "level 1 `aaaa1111`, level 2 `bbbb2222`" in readme
    assert "`synthetic0001`" in readme and "tiny-llm (local model)" in readme
    assert "| `paraphrase` | string | the paraphrase written by the LLM" in readme
    assert "`clotho_dev.csv`" in readme
    assert str(v.parent.parent) not in readme and "/home/someone" not in readme
    assert not body(readme).startswith("---")


def test_load_dataset_keeps_configs_and_splits(published: dict, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    v = Path(published["path"])
    acc = datasets.load_dataset(str(v), cache_dir=str(tmp_path / "cache"))
    rej = datasets.load_dataset(str(v), "rejected", cache_dir=str(tmp_path / "cache"))
    assert set(acc) == set(rej) == {"train", "validation", "test"}
    accepted = read_table(CORPUS, v / "accepted.parquet").to_pandas()
    rejected = read_table(GATE_REJECTED, v / "rejected.parquet").to_pandas()
    for ds, table in ((acc, accepted), (rej, rejected)):
        for hub, ours in (("train", "train"), ("validation", "val"), ("test", "test")):
            assert set(ds[hub][col.split]) == {ours}  # no val/test row leaks into train
            assert ds[hub].num_rows == int((table[col.split] == ours).sum())
    assert sum(acc[s].num_rows for s in acc) == len(accepted) == published["counts"]["accepted"]
    assert "failed_gates" in rej["train"].column_names and "rank" in acc["train"].column_names


def test_published_files_follow_the_umask(published: dict) -> None:
    v = Path(published["path"])
    assert stat.S_IMODE(v.stat().st_mode) == 0o755
    for p in v.rglob("*"):
        want = 0o755 if p.is_dir() else 0o644
        assert stat.S_IMODE(p.stat().st_mode) == want, p
    # hub files are still robustclap tables
    assert pq.read_schema(v / "data" / "accepted" / "train.parquet").metadata[
        b"robustclap.table"] == b"corpus"


def test_every_column_of_every_table_is_documented() -> None:
    """The card documents columns from the schema module: a new column needs its line."""
    from robustclap.contracts.schema import COLUMN_DOCS, TABLES

    missing = {t: [c for c in s.columns if not COLUMN_DOCS.get(c)] for t, s in TABLES.items()}
    assert not any(missing.values()), missing


def test_a_private_umask_is_followed_too(tmp_path: Path) -> None:
    gen, gate = make_stage_dirs(tmp_path, n_captions=8)
    for p in gate.iterdir():
        os.chmod(p, 0o644)
    old = os.umask(0o077)
    try:
        out = publish(tmp_path / "corpus" / "p", "p", gen, gate, {
            "model": "m", "model_revision": "0", "prompt_versions": {}, "gate_version": "g",
            "rounds": 1})
    finally:
        os.umask(old)
    for p in [Path(out["path"]), *Path(out["path"]).rglob("*")]:
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p
