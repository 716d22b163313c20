"""Generation stage: captions → level-1 / level-2 paraphrase candidates through an LLM.

Work is cut into shards of captions. For each shard every (caption, level, candidate) item is
asked in rounds of attempts: each attempt has its own seed, its reply is cached as it arrives,
validated, and a bad reply is asked again until `max_attempts`, then written as a failed row
with the raw reply and the reason. A shard is written atomically only when all its items are
final, so a run killed at any moment resumes from the committed shards and the cache, and
every (caption, level, candidate) appears exactly once.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc

from robustclap.contracts import layout
from robustclap.contracts.schema import (
    CANDIDATES,
    META_EXTRA,
    col,
    file_metadata,
    read_table,
    status,
)
from robustclap.contracts.schema import write_table as write_parquet
from robustclap.llm.ask import AskStats, Cache, ask_cached
from robustclap.llm.cache import cache_key
from robustclap.llm.model_ref import ModelRef
from robustclap.llm.types import Backend, LLMRequest, LLMResponse
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.level_sampling import level_plans
from robustclap.pipeline.parse import REPLY_SCHEMA, parse_reply
from robustclap.prompts import PromptTemplate, load_template

Progress = Callable[[int, int], None]  # (rows finished, completion tokens generated)


def _feedback_of(wanted: set | dict | None, caption_id: str, level: int) -> dict:
    """The (previous, feedback) a regeneration list gives this (caption, level), if any."""
    if isinstance(wanted, dict):
        previous, feedback = wanted.get((caption_id, level)) or (None, None)
        if previous and feedback:
            return {"previous": previous, "feedback": feedback}
    return {}


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from the row key and attempt: reproducible, different per attempt."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass
class Item:
    caption: dict
    level: int
    candidate: int
    input_text: str | None = None
    row: dict | None = None  # set when final
    previous: str | None = None  # regeneration: the rejected rewrite shown to the model
    feedback: str | None = None  # regeneration: what the gate found in it


@dataclass
class Stats(AskStats):
    """The LLM layer's counts of asking (AskStats) and the stage's counts of rows and shards."""

    rows_written: int = 0
    rows_skipped: int = 0
    ok_rows: int = 0
    failed_rows: int = 0
    retryable_failures: int = 0
    shards_written: int = 0
    shards_skipped: int = 0
    fail_reasons: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        """Plain data (what a shard task sends back from another process)."""
        return {**vars(self), "fail_reasons": dict(self.fail_reasons)}

    def add(self, other: dict) -> None:
        """Add another run's counts (`as_dict` form), e.g. one shard task's."""
        for name, value in other.items():
            if name == "fail_reasons":
                self.fail_reasons.update(value)
            else:
                setattr(self, name, getattr(self, name) + value)


class Generator:
    """Runs the attempts loop for one shard at a time against one backend and one cache."""

    def __init__(self, cfg: GenerateConfig, backend: Backend, cache: Cache,
                 model: ModelRef, run_id: str, round_: int = 0,
                 progress: Progress | None = None):
        self.cfg = cfg
        self.backend = backend  # asked only for what the cache does not hold
        self.cache = cache
        self.model = model
        self.model_name = model.reference  # identity in cache keys and rows
        self.model_revision = model.revision
        self.run_id = run_id
        self.round = round_
        self.progress = progress or (lambda rows, tokens: None)
        self.templates: dict[int, PromptTemplate] = {
            lv: load_template(lv, cfg.prompt_dir) for lv in cfg.levels
        }
        # sampling and candidates per level (the model's measured defaults, then the config's)
        self.plans = level_plans(cfg, model.reference)
        self.sampling_json = {lv: p.sampling.model_dump_json() for lv, p in self.plans.items()}
        self.schema = REPLY_SCHEMA if cfg.structured_output else None
        self.stats = Stats()

    # -- identity -------------------------------------------------------------------------
    def config_key(self) -> str:
        """Everything besides the captions that decides a shard's content."""
        uniform = all(p.sampling == self.cfg.sampling and p.candidates == self.cfg.candidates
                      for p in self.plans.values())
        # runs with one sampling for all levels keep the keys they had before per-level plans
        per_level = {} if uniform else {"plans": {lv: (self.sampling_json[lv], p.candidates)
                                                  for lv, p in self.plans.items()}}
        return cache_key(
            model=self.model_name, revision=self.model_revision,
            prompts={lv: t.version for lv, t in self.templates.items()},
            sampling=self.cfg.sampling.model_dump_json(), candidates=self.cfg.candidates,
            levels=self.cfg.levels, level2_source=self.cfg.level2_source,
            attempts=self.cfg.max_attempts, structured=self.cfg.structured_output,
            round=self.round, **per_level,
        )

    @staticmethod
    def _seed(item: Item, attempt: int) -> int:
        return derive_seed(item.input_text, item.level, item.candidate, attempt)

    def _key(self, item: Item, attempt: int) -> str:
        """The reply's response-cache key: everything that decides it."""
        seed = self._seed(item, attempt)
        extra = {"previous": item.previous, "feedback": item.feedback} if item.feedback else {}
        return cache_key(
            text=item.input_text, level=item.level,
            prompt=self.templates[item.level].version, model=self.model_name,
            revision=self.model_revision, sampling=self.sampling_json[item.level], seed=seed,
            attempt=attempt, schema=self.schema, **extra,
        )

    # -- one shard --------------------------------------------------------------------------
    def run_shard(self, captions: list[dict], wanted: set[tuple[str, int]] | None) -> list[dict]:
        n = {lv: p.candidates for lv, p in self.plans.items()}  # candidates of each round
        items = [
            Item(c, lv, k, **_feedback_of(wanted, c[col.caption_id], lv))
            for c in captions for lv in self.cfg.levels
            for k in range(self.round * n[lv], (self.round + 1) * n[lv])
            if wanted is None or (c[col.caption_id], lv) in wanted
        ]
        if self.cfg.level2_source == "level1" and 1 in self.cfg.levels:
            stages = [[i for i in items if i.level == 1], [i for i in items if i.level == 2]]
        else:
            stages = [items]
        for stage in stages:
            for item in stage:
                item.input_text = self._input_text(item, items)
                if item.input_text is None:
                    item.row = self._row(item, None, None, 0, 0, "no_level1_input", None, False)
            self._attempts([i for i in stage if i.row is None])
        return [i.row for i in items]

    def _messages(self, item: Item) -> list[dict[str, str]]:
        """The level's prompt; in a regeneration round with feedback, the rejected rewrite and
        the gate's findings follow the caption (only when the rewrite was of the same input)."""
        template = self.templates[item.level]
        if item.feedback and item.previous and item.input_text == item.caption[col.caption]:
            return template.messages(item.input_text, item.previous, item.feedback)
        return template.messages(item.input_text)

    def _input_text(self, item: Item, items: list[Item]) -> str | None:
        if item.level == 1 or self.cfg.level2_source == "original":
            return item.caption[col.caption]
        for other in items:
            if (other.level == 1 and other.candidate == item.candidate
                    and other.caption[col.caption_id] == item.caption[col.caption_id]):
                return other.row[col.paraphrase] if other.row else None
        return item.caption[col.caption]  # level 1 not part of this round: use the original

    def _request(self, item: Item, attempt: int) -> LLMRequest:
        return LLMRequest(self._messages(item), self.plans[item.level].sampling,
                          self._seed(item, attempt), self.schema)

    def _attempts(self, pending: list[Item]) -> None:
        """Every pending item asked (cache first) until its reply parses or the attempts are
        spent: the LLM layer's loop; each final reply becomes the item's row."""
        answers = ask_cached(
            self.backend, self.cache, pending,
            key=self._key, request=self._request, parse=_parse,
            final=lambda parsed: parsed[0] is not None,
            max_attempts=self.cfg.max_attempts, stats=self.stats,
            on_reply=lambda res: self.progress(0, res.completion_tokens),
            on_attempt=lambda n: self.progress(n, 0),
        )
        for item, a in zip(pending, answers, strict=True):
            text, reason = a.parsed
            raw = None if a.response.error is not None else a.response.text
            item.row = self._row(item, a.response, text, self._seed(item, a.attempt), a.attempt,
                                 reason, raw, a.from_cache)

    def _row(self, item: Item, res: LLMResponse | None, text: str | None, seed: int,
             attempt: int, reason: str | None, raw: str | None, cached: bool) -> dict:
        c = item.caption
        return {
            col.caption_id: c[col.caption_id], col.clip_id: c[col.clip_id],
            col.split: c[col.split], col.source: c[col.source], col.caption: c[col.caption],
            col.level: item.level, col.candidate: item.candidate,
            col.input_text: item.input_text, col.paraphrase: text,
            col.status: status.ok if text is not None else status.failed,
            col.fail_reason: None if text is not None else reason,
            col.raw_reply: raw if text is None else None,
            col.model: self.model_name, col.model_revision: self.model_revision,
            col.prompt_version: self.templates[item.level].version,
            col.sampling: self.sampling_json[item.level], col.seed: seed, col.attempt: attempt,
            col.finish_reason: res.finish_reason if res else None,
            col.prompt_tokens: res.prompt_tokens if res else 0,
            col.completion_tokens: res.completion_tokens if res else 0,
            col.latency_s: res.latency_s if res else 0.0,
            col.from_cache: cached, col.run_id: self.run_id, col.feedback: item.feedback,
            "_retryable": bool(res and res.retryable),
        }


def _parse(res: LLMResponse) -> tuple[str | None, str | None]:
    """(paraphrase, None) or (None, why not): a transport error is its own reason."""
    if res.error is not None:
        return None, res.error
    return parse_reply(res.text, res.finish_reason)


def shard_key(config_key: str, captions: list[dict], wanted: set | None) -> str:
    h = hashlib.sha256(config_key.encode())
    for c in captions:
        h.update(f"{c[col.caption_id]}\x1f{c[col.caption]}\x1f{c[col.split]}\x1e".encode())
    if wanted is not None:
        h.update(json.dumps(sorted(wanted)).encode())
        if isinstance(wanted, dict):  # the feedback shown to the model is part of the content
            h.update(json.dumps(sorted((list(k), list(v)) for k, v in wanted.items()
                                       if v != (None, None))).encode())
    return h.hexdigest()[:24]


def _shard_done(path: Path, key: str) -> bool:
    """A committed shard with the same content key and no transport failures to retry."""
    if not path.exists():
        return False
    meta = json.loads(file_metadata(path).get(META_EXTRA, b"{}"))
    return meta.get("key") == key and meta.get("retryable", 0) == 0


@dataclass
class Shard:
    index: int
    path: Path
    key: str
    captions: list[dict]
    done: bool


def plan_shards(captions: pd.DataFrame, out_dir: Path, gen: Generator,
                wanted: set[tuple[str, int]] | None = None) -> list[Shard]:
    """Cut the captions into shards and mark those already committed with the same content.

    Planning needs no engine: a rerun with nothing to do never starts one.
    """
    cand_dir = out_dir / layout.CANDIDATES_DIR
    cand_dir.mkdir(parents=True, exist_ok=True)
    records = captions.to_dict("records")
    if wanted is not None:
        ids = {cid for cid, _ in wanted}
        records = [r for r in records if r[col.caption_id] in ids]
    size, prefix, cfg_key = gen.cfg.shard_size, layout.shard_prefix(gen.round), gen.config_key()
    shards = []
    for i in range(0, len(records), size):
        part = records[i : i + size]
        path = layout.shard_file(out_dir, gen.round, i // size)
        key = shard_key(cfg_key, part, wanted)
        shards.append(Shard(i // size, path, key, part, _shard_done(path, key)))
    for stale in cand_dir.glob(f"{prefix}*.parquet"):  # left by an earlier, larger input
        if int(stale.stem[len(prefix):]) >= len(shards):
            stale.unlink()
    for partial in cand_dir.glob(".*.tmp"):  # a write interrupted by a kill
        partial.unlink()
    return shards


def run_shards(shards: list[Shard], gen: Generator,
               wanted: set[tuple[str, int]] | None = None) -> Stats:
    """Generate every shard not yet done and commit each one atomically."""
    s = gen.stats
    for shard in shards:
        if shard.done:
            n = read_table(CANDIDATES, shard.path, [col.status]).num_rows
            s.shards_skipped += 1
            s.rows_skipped += n
            gen.progress(n, 0)
            continue
        rows = gen.run_shard(shard.captions, wanted)
        retryable = sum(r.pop("_retryable") for r in rows)
        meta = json.dumps({"key": shard.key, "retryable": retryable})
        write_parquet(CANDIDATES, rows, shard.path, extra=meta)
        s.shards_written += 1
        s.rows_written += len(rows)
        s.retryable_failures += retryable
        for r in rows:
            if r[col.status] == status.ok:
                s.ok_rows += 1
            else:
                s.failed_rows += 1
                s.fail_reasons[r[col.fail_reason].split(" (")[0].split(":")[0]] += 1
    return s


def summarize_output(out_dir: Path) -> dict:
    """Counts over every committed shard (all rounds): what a reader of the folder sees."""
    files = layout.candidate_shards(out_dir)
    total = ok = 0
    for f in files:
        t = read_table(CANDIDATES, f, [col.status])
        total += t.num_rows
        ok += pc.sum(pc.equal(t[col.status], status.ok)).as_py() or 0
    return {"shards": len(files), "rows": total, "ok_rows": ok, "failed_rows": total - ok}


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
