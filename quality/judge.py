"""An LLM judge as one more gate (off by default): does the candidate describe the same sound
scene as the caption?

The run's own engine (any `robustclap.llm` backend: in-process vLLM or a served endpoint) answers
a versioned judge prompt with structured output: the caption events the candidate lost, the
events it added, the relations it changed, and a verdict. Answers are cached like generation
(robustclap.llm.cache.ResponseCache) under a key of everything that decides the reply: judge version
and prompt text, model, sampling, seed, caption, candidate and level. Only candidates that pass
every other gate are judged, so its cost falls on few rows.

A reply that is not valid JSON of the schema (a truncated or rambling small model) fails the
gate: precision first. Small models judge poorly: measure it (`calibrate --format candidates
--judge-model`) before switching it on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robustclap.contracts.errors import RobustclapError
from robustclap.llm.cache import ResponseCache, cache_key
from robustclap.llm.types import (
    Backend,
    EndpointUnavailable,
    LLMRequest,
    LLMResponse,
    Sampling,
)

JUDGE_VERSION = "judge-v1"
SAME = "same_scene"
DIFFERENT = "different_scene"

SYSTEM = (
    "You check paraphrases of audio captions. A paraphrase is faithful only if a listener "
    "would accept it as a description of exactly the same sound scene: every sound source and "
    "sound event of the caption is still there, nothing is added (no new source, event, place, "
    "attribute, story or explanation), and counts, negations, temporal order and who makes "
    "which sound are kept. Answer with JSON only."
)
USER = (
    "Caption: {caption}\nParaphrase (level {level}): {candidate}\n\n"
    "List the caption's events the paraphrase lost, the events it added, the relations it "
    "changed (order, roles, counts, negation), then the verdict: \"same_scene\" or "
    "\"different_scene\"."
)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "missing_events": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
        "added_events": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
        "changed_relations": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
        "verdict": {"type": "string", "enum": [SAME, DIFFERENT]},
    },
    "required": ["missing_events", "added_events", "changed_relations", "verdict"],
    "additionalProperties": False,
}
PROMPT_HASH = hashlib.sha256(f"{SYSTEM}\n{USER}\n{json.dumps(SCHEMA, sort_keys=True)}".encode()
                             ).hexdigest()[:12]


@dataclass(frozen=True)
class Verdict:
    """One judged candidate; `verdict` is None when the reply could not be read."""

    verdict: str | None
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    error: str | None = None
    completion_tokens: int = 0
    from_cache: bool = False

    @property
    def same(self) -> bool:
        return self.verdict == SAME

    def to_json(self) -> str:
        return json.dumps({"verdict": self.verdict, "missing": self.missing,
                           "added": self.added, "changed": self.changed,
                           "error": self.error}, separators=(",", ":"))


def parse_reply(response: LLMResponse) -> Verdict:
    """Read a judge reply; anything but complete JSON of the schema is an unreadable verdict."""
    tokens = response.completion_tokens
    if response.text is None:
        return Verdict(None, error=response.error or "no reply", completion_tokens=tokens)
    if response.finish_reason == "length":
        return Verdict(None, error="truncated (max_tokens reached)", completion_tokens=tokens)
    try:
        data = json.loads(response.text)
    except json.JSONDecodeError as exc:
        return Verdict(None, error=f"invalid JSON ({exc.msg})", completion_tokens=tokens)
    if not isinstance(data, dict) or data.get("verdict") not in (SAME, DIFFERENT):
        return Verdict(None, error="no verdict", completion_tokens=tokens)
    lists = []
    for name in ("missing_events", "added_events", "changed_relations"):
        value = data.get(name, [])
        lists.append([str(v) for v in value] if isinstance(value, list) else [])
    return Verdict(data["verdict"], *lists, completion_tokens=tokens)


class Judge:
    """Judges (caption, candidate, level) triples with one backend and a response cache."""

    def __init__(self, backend: Backend, cache: ResponseCache, model: str,
                 sampling: Sampling | None = None, seed: int = 0) -> None:
        self.backend = backend
        self.cache = cache
        self.model = model
        self.sampling = sampling or judge_sampling(160)
        self.seed = seed
        self.calls = 0  # requests sent to the engine (cache misses)

    def key(self, caption: str, candidate: str, level: int) -> str:
        return cache_key(kind="judge", judge=JUDGE_VERSION, prompt=PROMPT_HASH, model=self.model,
                         sampling=self.sampling.model_dump(), seed=self.seed, caption=caption,
                         candidate=candidate, level=level)

    def request(self, caption: str, candidate: str, level: int) -> LLMRequest:
        user = USER.format(caption=caption, candidate=candidate, level=level)
        return LLMRequest([{"role": "system", "content": SYSTEM},
                           {"role": "user", "content": user}],
                          self.sampling, self.seed, SCHEMA)

    def judge(self, items: Sequence[tuple[str, str, int]]) -> list[Verdict]:
        """A verdict per item, asking the engine only for what the cache lacks."""
        keys = [self.key(*item) for item in items]
        cached = self.cache.get_many(keys)
        todo = [i for i, k in enumerate(keys) if k not in cached]
        fresh: dict[int, LLMResponse] = {}

        def done(j: int, response: LLMResponse) -> None:
            i = todo[j]
            fresh[i] = response
            self.cache.put(keys[i], response)  # errors are never cached

        if todo:
            self.calls += len(todo)
            try:
                self.backend.generate([self.request(*items[i]) for i in todo], done)
            except EndpointUnavailable as exc:  # the answers that arrived are cached
                raise RobustclapError(f"the LLM judge's endpoint stopped answering: {exc}; "
                                      "rerun when it is back (cached verdicts are kept)"
                                      ) from exc
        out = []
        for i, k in enumerate(keys):
            if k in cached:
                v = parse_reply(cached[k])
                out.append(Verdict(v.verdict, v.missing, v.added, v.changed, v.error,
                                   v.completion_tokens, from_cache=True))
            else:
                out.append(parse_reply(fresh.get(i, LLMResponse(None, None, error="no reply"))))
        return out


def judge_sampling(max_tokens: int) -> Sampling:
    """Greedy decoding for every judge, whatever engine answers."""
    return Sampling(temperature=0.0, top_p=1.0, max_tokens=max_tokens)


class InProcessJudge:
    """A Judge over an in-process vLLM engine of `model` (a local folder, `packaged:NAME` or a
    hub id), with its response cache at `cache_path`; a context manager that shuts both."""

    def __init__(self, model: str, cache_path: str | Path, max_tokens: int = 160,
                 seed: int = 0, engine_args: dict | None = None) -> None:
        from robustclap.llm.inprocess import InProcessBackend
        from robustclap.llm.model_ref import resolve_model

        ref = resolve_model(model)
        self.cache = ResponseCache(cache_path)
        self.backend = InProcessBackend(ref.name, engine_args)
        self.judge = Judge(self.backend, self.cache, f"{model}@{ref.revision}",
                           judge_sampling(max_tokens), seed)

    def __enter__(self) -> Judge:
        return self.judge

    def __exit__(self, *exc: object) -> None:
        self.backend.close()
        self.cache.close()
