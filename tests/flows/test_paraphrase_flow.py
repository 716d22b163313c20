"""The paraphrase flow end to end on Prefect's temporary local server, with the real
`vllm serve` of the tiny model, the real gate and an atomic versioned publish."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from robustclap.contracts.layout import versions
from robustclap.contracts.schema import CANDIDATES, CORPUS, col, read_dir, read_table
from robustclap.contracts.stage import total
from robustclap.flows.paraphrase import generation_stats, paraphrase_flow

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def candidates(version_dir: Path) -> pd.DataFrame:
    return read_dir(CANDIDATES, version_dir / "candidates").to_pandas()


def llm_calls(published: dict) -> int:
    """Over every generation round the corpus manifest lists (each a StageStats)."""
    return total(generation_stats(published), "llm_calls")


def test_paraphrase_flow_publishes_versions_and_is_incremental(run_config, tmp_path):
    cfg = run_config()
    first = paraphrase_flow(str(cfg))
    v1 = Path(first["path"])
    assert v1 == tmp_path / "corpus" / "flowtest" / "v1"
    assert (tmp_path / "corpus" / "flowtest" / "latest").resolve() == v1
    for name in ("manifest.json", "README.md", "accepted.parquet", "rejected.parquet",
                 "captions.parquet", "summary.json"):
        assert (v1 / name).exists(), name
    manifest = json.loads((v1 / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["model"] == "tiny"
    assert set(manifest["prompt_versions"]) == {"1", "2"} and manifest["gate_version"]
    assert [g["stage"] for g in manifest["generation"]] == ["generate"] * manifest["rounds"]
    assert manifest["gate"]["stage"] == "gate"
    assert manifest["gate"]["rows_out"] == manifest["counts"]["accepted"]
    cands = candidates(v1)
    accepted = read_table(CORPUS, v1 / "accepted.parquet").num_rows
    rejected = pd.read_parquet(v1 / "rejected.parquet")
    assert accepted + len(rejected) == len(cands)  # nothing lost between generate and gate
    assert not cands.duplicated([col.caption_id, col.level, col.candidate]).any()
    card = (v1 / "README.md").read_text()
    assert "prompt versions" in card and manifest["gate_version"] in card
    assert first["counts"]["captions"] == 12
    assert set(cands[col.split]) == {"train", "test"}
    assert llm_calls(first) == int((cands[col.attempt] + 1).sum())

    # unchanged rerun: no LLM call, no new version (the latest is returned, unchanged)
    second = paraphrase_flow(str(cfg))
    assert llm_calls(second) == 0 and second["version"] == 1 and second["unchanged"]
    assert not second["finetune_ready"]
    assert versions(tmp_path / "corpus" / "flowtest") == [1]

    # one changed caption and one changed template: exactly the calls those changes need
    captions = (tmp_path / "captions.csv").read_text()
    (tmp_path / "captions.csv").write_text(captions.replace("A dog barks twice.",
                                                            "A dog barks three times."))
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for lv in (1, 2):
        text = (REPO / "prompts" / f"level{lv}.yaml").read_text()
        if lv == 2:
            changed = text.replace("You rewrite audio captions.",
                                   "You rewrite audio captions for a corpus.")
            assert changed != text, "the level-2 template no longer has the edited sentence"
            text = changed
        (prompts / f"level{lv}.yaml").write_text(text)
    raw = yaml.safe_load(cfg.read_text())
    raw["generate"]["prompt_dir"] = "prompts"
    cfg.write_text(yaml.safe_dump(raw))
    third = paraphrase_flow(str(cfg))
    cands3 = candidates(Path(third["path"]))
    new_ids = set(cands3[col.caption_id]) - set(cands[col.caption_id])
    assert len(new_ids) == 1
    needed = cands3[(cands3[col.level] == 2) | cands3[col.caption_id].isin(new_ids)]
    assert llm_calls(third) == int((needed[col.attempt] + 1).sum())
    assert not third["unchanged"]
    assert (Path(third["path"]).parent / "latest").resolve().name == "v2"
    assert not [p for p in Path(third["path"]).parent.iterdir() if p.name.startswith(".")]


def test_paraphrase_flow_on_real_captions(tmp_path, vllm_server, shared_data):
    cfg = tmp_path / "real.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "clotho", "input": str(shared_data / "clotho" / "validation.csv"),
        "max_clips": 2, "corpus_dir": "corpus", "work_dir": "work", "regenerate_rounds": 0,
        "generate": {"model": "tiny", "base_url": vllm_server, "cache_dir": "cache",
                     "max_attempts": 1, "sampling": {"max_tokens": 32}},
    }))
    published = paraphrase_flow(str(cfg))
    assert published["counts"]["captions"] == 10
    cands = candidates(Path(published["path"]))
    assert len(cands) == 20 and set(cands[col.split]) == {"val"}
    assert os.path.islink(tmp_path / "corpus" / "clotho" / "latest")


def test_paraphrase_flow_on_a_local_dask_cluster(run_config, tmp_path):
    """The same flow with shard tasks on a local Dask cluster (2 worker processes) makes the
    same candidates as the in-process thread runner."""
    from robustclap.flows.paraphrase import run_paraphrase

    dask = run_paraphrase(str(run_config(name="dask", task_runner="dask", regenerate_rounds=0)))
    local = run_paraphrase(str(run_config(name="local", regenerate_rounds=0)))
    a, b = candidates(Path(dask["path"])), candidates(Path(local["path"]))
    key = [col.caption_id, col.level, col.candidate]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    assert list(a[col.paraphrase].fillna("")) == list(b[col.paraphrase].fillna(""))
    assert llm_calls(dask) == int((a[col.attempt] + 1).sum())
    assert llm_calls(local) == 0  # the same cache: the second run asked nothing new
    # same content, other folders: the gate must run for the second folder too (a content
    # cache hit must never stand in for files that are not there)
    for published in (dask, local):
        version = Path(published["path"])
        gated = read_table(CORPUS, version / "accepted.parquet").num_rows + len(
            pd.read_parquet(version / "rejected.parquet"))
        assert gated == len(candidates(version))
