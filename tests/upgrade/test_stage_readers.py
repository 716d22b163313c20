"""Every stage reader on tables of schema version 1: gate, calibrate, publish, export and
`datasets.load_dataset` on the exported version, and the training loader. What they write is
the current version."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from typer.testing import CliRunner

from robustclap.cli import app
from robustclap.contracts.schema import SCHEMA_VERSION
from robustclap.corpus.stage_publish import publish_stages
from robustclap.corpus.versions import check_version

from .old_schema import folder_to_v1, schema_version

HERE = Path(__file__).resolve().parent
runner = CliRunner()


def _stage_dirs():
    spec = importlib.util.spec_from_file_location("stage_dirs", HERE.parent / "corpus" /
                                                  "stage_dirs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_stage_dirs


@pytest.fixture(scope="module")
def stages(tmp_path_factory) -> dict[str, Path]:
    """The same generation and gate folders twice: current, and in the schema-1 layout."""
    base = tmp_path_factory.mktemp("stages")
    gen, gate = _stage_dirs()(base / "current", n_captions=16)
    old = base / "old"
    shutil.copytree(base / "current", old)
    changed = folder_to_v1(old / "generated") + folder_to_v1(old / "gated")
    assert {p.name for p in changed} >= {"captions.parquet", "regenerate.parquet",
                                         "scores.parquet", "r00-00000.parquet"}
    return {"gen": gen, "gate": gate, "old_gen": old / "generated", "old_gate": old / "gated",
            "base": base}


def test_gate_reads_schema_1_candidates_and_writes_the_current_version(stages, tmp_path):
    out = tmp_path / "gated"
    res = runner.invoke(app, ["gate", "--input", str(stages["old_gen"]), "--out", str(out),
                              "--threads", "1"])
    assert res.exit_code == 0, res.output
    counts = json.loads(res.output[res.output.index("{"):])
    total = sum(pq.ParquetFile(p).metadata.num_rows
                for p in (stages["old_gen"] / "candidates").glob("*.parquet"))
    assert counts["candidates"] == total == counts["accepted"] + counts["rejected"]
    for name in ("accepted", "rejected", "scores", "regenerate"):
        assert schema_version(out / f"{name}.parquet") == SCHEMA_VERSION
    assert {"previous", "feedback"} <= set(pq.read_schema(out / "regenerate.parquet").names)


def test_calibrate_with_a_gate_config_of_the_schema_1_release(tmp_path):
    pairs = tmp_path / "labelled.jsonl"
    rows = [("A dog barks twice.", 1, "Twice, a dog barks.", True, True),
            ("A dog barks twice.", 1, "A cat meows.", False, True),
            ("Rain falls on a roof.", 2, "Water drops patter on a ceiling.", True, True),
            ("Rain falls on a roof.", 2, "A car drives past.", False, True)]
    pairs.write_text("".join(json.dumps(dict(zip(
        ("caption", "level", "candidate", "meaning_ok", "level_ok"), r, strict=True))) + "\n"
        for r in rows))
    out = tmp_path / "report.json"
    res = runner.invoke(app, ["calibrate", "--format", "candidates", "--pairs", str(pairs),
                              "--config", str(HERE / "fixtures" / "gates-schema1.yaml"),
                              "--out", str(out), "--threads", "1"])
    assert res.exit_code == 0, res.output
    from robustclap.quality.config import load_config

    report = json.loads(out.read_text())
    assert report["rows"] == 4 and set(report["levels"]) == {"1", "2"}
    # judged by the old release's gate config (its version hash, as that release computed it)
    assert report["gate_version"] == load_config(HERE / "fixtures" / "gates-schema1.yaml").version


def test_publish_from_schema_1_folders_writes_current_tables(stages):
    corpus = stages["base"] / "corpus"
    published = publish_stages(stages["old_gen"], stages["old_gate"], corpus, "old")
    version = Path(published["path"])
    assert check_version(version, deep=True) == []
    tables = [p for p in version.rglob("*.parquet")]
    assert tables and all(schema_version(p) == SCHEMA_VERSION for p in tables)
    upgrades = json.loads((version / "manifest.json").read_text())["schema_upgrades"]
    assert upgrades["candidates/r00-00000.parquet"] == {"from": "1", "defaulted": ["feedback"]}
    assert upgrades["regenerate.parquet"]["defaulted"] == ["previous", "feedback"]
    card = (version / "README.md").read_text()
    assert "feedback" in card
    # the same content in the current layout is the same corpus: nothing new to publish
    again = publish_stages(stages["gen"], stages["gate"], corpus, "old")
    assert again["unchanged"] and again["version"] == 1


def _v1_version(stages) -> Path:
    """A version published before schema 2 (all its tables, data/ included, in version 1)."""
    corpus = stages["base"] / "v1-era"
    if not (corpus / "era" / "v1").is_dir():
        publish_stages(stages["gen"], stages["gate"], corpus, "era")
        folder_to_v1(corpus / "era" / "v1")
    version = corpus / "era" / "v1"
    assert schema_version(version / "data" / "candidates" / "train.parquet") == "1"
    assert check_version(version, deep=True) == []
    return version


def test_export_and_load_dataset_on_a_schema_1_version(stages, tmp_path):
    import datasets

    version = _v1_version(stages)
    dest = tmp_path / "hub"
    res = runner.invoke(app, ["export", str(version), "--to", str(dest)])
    assert res.exit_code == 0, res.output
    accepted = datasets.load_dataset(str(dest))
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (dest / "data" / "accepted").glob("*"))
    assert sum(len(s) for s in accepted.values()) == rows > 0
    candidates = datasets.load_dataset(str(dest), "candidates")
    assert "train" in candidates and "paraphrase" in candidates["train"].column_names


def test_training_loader_on_a_schema_1_version(stages, tmp_path):
    from robustclap.training.data import build_training_view, read_captions, read_corpus

    version = _v1_version(stages)
    captions = read_captions(version / "captions.parquet")
    corpus = read_corpus(version)
    assert len(corpus) == pq.ParquetFile(version / "accepted.parquet").metadata.num_rows > 0
    audio = tmp_path / "audio"
    audio.mkdir()
    rng = np.random.default_rng(0)
    for clip in sorted(set(captions["clip_id"])):
        sf.write(audio / f"{clip}.wav", 0.2 * rng.standard_normal(8000).astype(np.float32), 16000)
    view = build_training_view(captions, corpus, audio, ["train"], 16000)
    assert view.examples and any(e.p1 or e.p2 for e in view.examples)
