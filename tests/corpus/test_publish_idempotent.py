"""Publishing the same content twice makes one version; changed content makes the next one."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from robustclap.cli import app
from robustclap.contracts.layout import versions
from robustclap.contracts.schema import CAPTIONS, GATE_REJECTED, col, read_table, write_table
from robustclap.corpus.content_hash import version_hash
from robustclap.corpus.stage_publish import publish_stages

from .stage_dirs import make_stage_dirs

runner = CliRunner()


@pytest.fixture
def stages(tmp_path: Path) -> tuple[Path, Path, Path]:
    gen, gate = make_stage_dirs(tmp_path, n_captions=20)
    return gen, gate, tmp_path / "corpus"


def test_identical_publish_is_unchanged_and_a_changed_caption_publishes(stages) -> None:
    gen, gate, corpus = stages
    first = publish_stages(gen, gate, corpus, "demo")
    assert first["version"] == 1 and not first["unchanged"]
    recorded = json.loads((Path(first["path"]) / "manifest.json").read_text())["content_hash"]
    assert recorded["sha256"].startswith("sha256:")
    again = publish_stages(gen, gate, corpus, "demo")
    assert again["unchanged"] and again["version"] == 1 and again["path"] == first["path"]
    assert versions(corpus / "demo") == [1]
    assert not [p for p in (corpus / "demo").iterdir() if p.name.startswith(".")]

    captions = read_table(CAPTIONS, gen / "captions.parquet")
    texts = captions.column(col.caption).to_pylist()
    texts[0] = texts[0] + " Then silence."
    write_table(CAPTIONS, captions.set_column(
        captions.schema.get_field_index(col.caption), col.caption, [texts]),
        gen / "captions.parquet")
    changed = publish_stages(gen, gate, corpus, "demo")
    assert changed["version"] == 2 and not changed["unchanged"]
    assert versions(corpus / "demo") == [1, 2]


def test_a_changed_gate_decision_or_licence_publishes(stages) -> None:
    gen, gate, corpus = stages
    publish_stages(gen, gate, corpus, "demo")
    rejected = read_table(GATE_REJECTED, gate / "rejected.parquet")
    reasons = rejected.column(col.reason).to_pylist()
    reasons[0] = "sbert" if reasons[0] != "sbert" else "bertscore"
    write_table(GATE_REJECTED, rejected.set_column(
        rejected.schema.get_field_index(col.reason), col.reason, [reasons]),
        gate / "rejected.parquet")
    assert publish_stages(gen, gate, corpus, "demo")["version"] == 2
    assert publish_stages(gen, gate, corpus, "demo", licence="cc-by-4.0")["version"] == 3
    assert publish_stages(gen, gate, corpus, "demo", licence="cc-by-4.0")["unchanged"]


def test_row_order_does_not_change_the_hash(stages) -> None:
    gen, gate, corpus = stages
    publish_stages(gen, gate, corpus, "demo")
    rejected = read_table(GATE_REJECTED, gate / "rejected.parquet")
    order = pc.sort_indices(rejected, [(col.caption_id, "descending")])
    write_table(GATE_REJECTED, rejected.take(order), gate / "rejected.parquet")
    assert publish_stages(gen, gate, corpus, "demo")["unchanged"]


def test_a_version_published_before_hashes_is_compared_by_its_files(stages) -> None:
    gen, gate, corpus = stages
    first = Path(publish_stages(gen, gate, corpus, "demo")["path"])
    manifest_path = first / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    recorded = manifest.pop("content_hash")["sha256"]
    manifest_path.write_text(json.dumps(manifest))
    assert version_hash(first) == recorded  # computed from its tables and provenance
    assert publish_stages(gen, gate, corpus, "demo")["unchanged"]


def test_publish_cli_says_unchanged(stages) -> None:
    gen, gate, corpus = stages
    args = ["publish", "--generated", str(gen), "--gated", str(gate), "--corpus-dir",
            str(corpus), "--name", "demo"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["message"] == "published v1"
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    out = json.loads(second.output)
    assert out["message"] == "unchanged, latest is v1" and out["unchanged"] is True


def test_a_gate_rerun_rewriting_its_summary_leaves_the_published_version_intact(stages) -> None:
    from robustclap.corpus.versions import check_version

    gen, gate, corpus = stages
    version = Path(publish_stages(gen, gate, corpus, "demo")["path"])
    for name in ("summary.json", "summary.md", "gate_config.yaml"):
        with open(gate / name, "a", encoding="utf-8") as fh:  # in place, as the gate writes
            fh.write("\n# rewritten by the next gate run\n")
    assert check_version(version, deep=True) == []
