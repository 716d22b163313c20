"""Issue 16, case 9: under Dask no two processes write one SQLite file; the run merges."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from robustclap.llm.cache import ResponseCache
from robustclap.llm.types import LLMResponse
from robustclap.llm.worker_cache import WorkerCache, merge_worker_caches, worker_cache_path


def _reply(i: int) -> LLMResponse:
    return LLMResponse(f'{{"paraphrase": "p{i}"}}', "stop", prompt_tokens=1, completion_tokens=1)


def _task(shared: str, shard: int, n: int) -> None:
    """One shard task in its own process: reads the shared cache, writes its own file."""
    cache = WorkerCache(Path(shared), worker_cache_path(Path(shared), "run", 0, shard))
    try:
        assert "k-shared" in cache.get_many(["k-shared"])
        for i in range(n):
            cache.put(f"k{shard}-{i}", _reply(i))
    finally:
        cache.close()


def test_case9_each_task_writes_its_own_file_and_the_run_merges(tmp_path):
    shared = tmp_path / "cache" / "llm-responses.sqlite"
    main = ResponseCache(shared)
    main.put("k-shared", _reply(0))
    main.close()
    before = shared.stat().st_mtime_ns
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_task, args=(str(shared), s, 50)) for s in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert shared.stat().st_mtime_ns == before  # no task wrote the shared file
    workers = sorted((tmp_path / "cache" / "workers").glob("*.sqlite"))
    assert [w.name for w in workers] == [f"run-r0-{s:05d}.sqlite" for s in range(3)]
    assert merge_worker_caches(shared) == 150
    assert not list((tmp_path / "cache" / "workers").glob("*.sqlite*"))
    main = ResponseCache(shared)
    try:
        assert len(main) == 151
        assert main.get_many(["k2-49"])["k2-49"].text == '{"paraphrase": "p49"}'
    finally:
        main.close()
    assert merge_worker_caches(shared) == 0


def test_case9_a_torn_worker_file_is_skipped_not_fatal(tmp_path):
    shared = tmp_path / "llm-responses.sqlite"
    (tmp_path / "workers").mkdir()
    (tmp_path / "workers" / "run-r0-00000.sqlite").write_bytes(b"not a database at all" * 10)
    assert merge_worker_caches(shared) == 0
    assert not (tmp_path / "workers" / "run-r0-00000.sqlite").exists()
