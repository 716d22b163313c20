"""On-disk cache of scores (per text pair and scorer) and embeddings (per text and model).

Scores never depend on thresholds, so re-gating with a new config reads every score from here
and loads no model. SQLite keeps lookups by key cheap without holding the cache in memory, and
lets two runs share one file. Counters record hits and misses so tests can prove that a run
recomputed nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from robustclap.contracts.errors import RobustclapError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pair_scores (
    scorer TEXT NOT NULL, pair_key TEXT NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (scorer, pair_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS text_vectors (
    model TEXT NOT NULL, text_key TEXT NOT NULL, vec BLOB NOT NULL,
    PRIMARY KEY (model, text_key)) WITHOUT ROWID;
"""
_CHUNK = 500  # keys per SQL statement (SQLite's host-parameter limit is 999 on old builds)

Payload = dict[str, float | int | bool | str | None]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    writes: int = 0
    by_scorer: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, scorer: str, kind: str, n: int) -> None:
        setattr(self, kind, getattr(self, kind) + n)
        entry = self.by_scorer.setdefault(scorer, {"hits": 0, "misses": 0, "writes": 0})
        entry[kind] += n


class ScoreCache:
    """Pair scores and text vectors keyed by (scorer identity, key). `path=None`: in memory."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        target = ":memory:"
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target = str(self.path)
        try:
            self._db = sqlite3.connect(target, timeout=60)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise RobustclapError(f"score cache {target} cannot be opened: {exc}") from exc
        self.stats = CacheStats()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ScoreCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_scores(self, scorer: str, keys: Iterable[str]) -> dict[str, Payload]:
        """Cached payloads of the keys that are present (missing keys are simply absent)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Payload] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i:i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT pair_key, payload FROM pair_scores WHERE scorer = ? "
                f"AND pair_key IN ({marks})", [scorer, *chunk],
            )
            found.update((k, json.loads(p)) for k, p in rows)
        self.stats.count(scorer, "hits", len(found))
        self.stats.count(scorer, "misses", len(wanted) - len(found))
        return found

    def put_scores(self, scorer: str, payloads: Mapping[str, Payload]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO pair_scores VALUES (?, ?, ?)",
                [(scorer, k, json.dumps(v)) for k, v in payloads.items()],
            )
        self.stats.count(scorer, "writes", len(payloads))

    def get_vectors(self, model: str, keys: Iterable[str]) -> dict[str, np.ndarray]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i:i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT text_key, vec FROM text_vectors WHERE model = ? AND text_key IN ({marks})",
                [model, *chunk],
            )
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        return found

    def put_vectors(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO text_vectors VALUES (?, ?, ?)",
                [(model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in vectors.items()],
            )
