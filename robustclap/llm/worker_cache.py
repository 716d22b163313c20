"""The response cache under Dask: every shard task writes its own SQLite file; the run merges.

SQLite's locking is not reliable over a network filesystem, which is what a `cache_dir` shared
by Dask workers on several machines is. So no two processes ever write one file: a shard task
reads the shared cache (read-only) and writes the replies it receives into
`<cache_dir>/workers/<run>-r<round>-<shard>.sqlite`, a file only it opens for writing; the
flow's own process, the single writer of the shared cache, merges those files into it after
each round (and at the start of a run, files a killed run left behind) and deletes them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from robustclap.llm.cache import ResponseCache
from robustclap.llm.types import LLMResponse

WORKERS = "workers"


def worker_cache_path(shared: Path, run_id: str, round_: int, shard: int) -> Path:
    return Path(shared).parent / WORKERS / f"{run_id}-r{round_}-{shard:05d}.sqlite"


class _SharedReader(ResponseCache):
    """The shared cache opened for lookups only (`query_only`): a shard task never writes it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA query_only=ON")

    def put(self, key: str, response: LLMResponse) -> None:
        raise RuntimeError("the shared response cache is written only by the flow's process")


class WorkerCache:
    """Reads the shared cache and this task's own file; writes only its own file."""

    def __init__(self, shared: Path, own: Path):
        self.own = ResponseCache(own)
        self.shared = _SharedReader(shared) if Path(shared).exists() else None

    def get_many(self, keys: Iterable[str]) -> dict[str, LLMResponse]:
        keys = list(dict.fromkeys(keys))
        found = self.own.get_many(keys)
        rest = [k for k in keys if k not in found]
        if self.shared is not None and rest:
            found.update(self.shared.get_many(rest))
        return found

    def put(self, key: str, response: LLMResponse) -> None:
        self.own.put(key, response)

    def close(self) -> None:
        self.own.close()
        if self.shared is not None:
            self.shared.close()


def merge_worker_caches(shared: Path) -> int:
    """Copy every worker file's responses into the shared cache, then delete the file.

    Run only by the flow's process (the shared cache's single writer). Returns the responses
    merged. A worker file still being written would be merged in part and deleted, so this is
    called only when no shard task of the run is in flight.
    """
    folder = Path(shared).parent / WORKERS
    files = sorted(folder.glob("*.sqlite")) if folder.is_dir() else []
    if not files:
        return 0
    target = ResponseCache(shared)  # creates the table when the shared cache is new
    merged = 0
    try:
        for f in files:
            try:
                src = sqlite3.connect(f"file:{f}?mode=ro", uri=True)
                try:
                    rows = src.execute("SELECT key, value FROM responses").fetchall()
                finally:
                    src.close()
            except sqlite3.DatabaseError:
                rows = []  # an empty or torn file of a killed task: its replies are re-asked
            target._db.executemany(
                "INSERT OR IGNORE INTO responses (key, value) VALUES (?, ?)", rows)
            target._db.commit()
            merged += len(rows)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{f}{suffix}").unlink(missing_ok=True)
    finally:
        target.close()
    return merged
