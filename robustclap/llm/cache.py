"""Content-addressed cache of LLM responses (SQLite, one row per response).

The key is a hash of everything that determines a reply: input text, level, prompt version,
model and revision, sampling parameters, seed, attempt and output schema. A rerun with nothing
changed makes zero LLM calls; a changed caption or template only misses its own keys. Each
response is committed as it arrives, so a killed run loses at most the requests in flight.
Transport errors are never cached.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from robustclap.llm.types import LLMResponse


def cache_key(**fields: object) -> str:
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        self._db.commit()

    def get_many(self, keys: Iterable[str]) -> dict[str, LLMResponse]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, LLMResponse] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk
            ).fetchall()
            for key, value in rows:
                found[key] = LLMResponse(**json.loads(value))
        return found

    def put(self, key: str, response: LLMResponse) -> None:
        if response.error is not None:
            return
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)",
            (key, json.dumps(response.to_dict(), ensure_ascii=False)),
        )
        self._db.commit()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._db.close()
