"""Issue 16, case 9 end to end: the paraphrase flow on a local Dask cluster (Prefect, real
served client, fake endpoint). Shard tasks write their own cache files and never the shared
one; the flow merges them, so an unchanged rerun asks the endpoint nothing."""

from __future__ import annotations

from pathlib import Path

import robustclap.flows.paraphrase as paraphrase
import robustclap.flows.shards as shards
from robustclap.corpus.versions import check_version
from robustclap.llm.cache import ResponseCache


def test_case9_dask_flow_merges_worker_caches(tmp_path, small_run, fake_llm, monkeypatch):
    merged: list[int] = []
    real_merge = shards.merge_worker_caches

    def counting_merge(shared: Path) -> int:  # runs in the flow's process
        n = real_merge(shared)
        merged.append(n)
        return n

    monkeypatch.setattr(shards, "merge_worker_caches", counting_merge)
    cfg = small_run(top={"task_runner": "dask", "dask_workers": 2})
    first = paraphrase.run_paraphrase(str(cfg))
    asked = fake_llm.requests
    assert asked > 0 and check_version(Path(first["path"]), deep=True) == []
    assert sum(merged) == asked  # every reply reached the shared cache through a worker file
    cache_dir = tmp_path / "cache"
    assert not list((cache_dir / "workers").glob("*.sqlite*"))  # all merged, none left
    shared = ResponseCache(cache_dir / "llm-responses.sqlite")
    try:
        assert len(shared) == asked
    finally:
        shared.close()
    second = paraphrase.run_paraphrase(str(cfg))
    assert fake_llm.requests == asked and second["version"] == first["version"]
    assert second["unchanged"]  # same content: no new version
