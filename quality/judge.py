"""An LLM judge as one more gate (off by default): does the candidate describe the same sound
scene as the caption?

The run's own engine (any `robustclap.llm` backend: in-process vLLM or a served endpoint)
answers a versioned judge prompt with structured output: the caption events the candidate
lost, the events it added, the relations it changed, and a verdict. Answers go through the LLM
layer's cached loop (robustclap.llm.ask, as generation's do) under a key of everything that
decides the reply: judge version and prompt text, model, sampling, seed, caption, candidate and
level. Only candidates that pass every other gate are judged, so its cost falls on few rows.

`open_judge` is the one way to build a judge: on a run's own engine (`robustclap run`, through
`run_judge`) or on a backend it opens from LLM settings (`robustclap gate --judge-model`, with
`--judge-url` a served endpoint, else an in-process vLLM).

A reply that is not valid JSON of the schema (a truncated or rambling small model) fails the
gate: precision first. Small models judge poorly: measure it (`calibrate --format candidates
--judge-model`) before switching it on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robustclap.contracts.errors import RobustclapError
from robustclap.llm.ask import AskStats, ask_cached
from robustclap.llm.cache import ResponseCache, cache_key
from robustclap.llm.engine import open_backend
from robustclap.llm.model_ref import ModelRef
from robustclap.llm.settings import LLMSettings
from robustclap.llm.types import (
    Backend,
    EndpointUnavailable,
    LLMRequest,
    LLMResponse,
    Sampling,
)
from robustclap.quality.config import GateConfig

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
        self.stats = AskStats()

    def key(self, caption: str, candidate: str, level: int) -> str:
        return cache_key(kind="judge", judge=JUDGE_VERSION, prompt=PROMPT_HASH, model=self.model,
                         sampling=self.sampling.model_dump(), seed=self.seed, caption=caption,
                         candidate=candidate, level=level)

    def request(self, caption: str, candidate: str, level: int) -> LLMRequest:
        user = USER.format(caption=caption, candidate=candidate, level=level)
        return LLMRequest([{"role": "system", "content": SYSTEM},
                           {"role": "user", "content": user}],
                          self.sampling, self.seed, SCHEMA)

    @property
    def calls(self) -> int:
        """Requests sent to the engine (cache misses)."""
        return self.stats.asked

    def judge(self, items: Sequence[tuple[str, str, int]]) -> list[Verdict]:
        """A verdict per item, asking the engine only for what the cache lacks."""
        try:
            answers = ask_cached(self.backend, self.cache, items,
                                 key=lambda item, _: self.key(*item),
                                 request=lambda item, _: self.request(*item),
                                 parse=parse_reply, stats=self.stats)
        except EndpointUnavailable as exc:  # the answers that arrived are cached
            raise RobustclapError(f"the LLM judge's endpoint stopped answering: {exc}; "
                                  "rerun when it is back (cached verdicts are kept)"
                                  ) from exc
        return [dataclasses.replace(a.parsed, from_cache=a.from_cache) for a in answers]


def judge_sampling(max_tokens: int) -> Sampling:
    """Greedy decoding for every judge, whatever engine answers."""
    return Sampling(temperature=0.0, top_p=1.0, max_tokens=max_tokens)


@contextlib.contextmanager
def open_judge(model: ModelRef, cache_path: str | Path, max_tokens: int = 160, seed: int = 0,
               *, engine: Backend | None = None,
               settings: LLMSettings | None = None) -> Iterator[Judge]:
    """A Judge of `model` with its answers cached at `cache_path` under the model's reference
    and revision: on `engine` (a run's own, shut by its owner) or else on a backend opened here
    from `settings` and shut on the way out."""
    if (engine is None) == (settings is None):
        raise ValueError("open_judge needs either the run's engine or LLM settings")
    with contextlib.ExitStack() as stack:
        backend = engine or stack.enter_context(open_backend(settings, model))
        cache = ResponseCache(cache_path)
        stack.callback(cache.close)
        yield Judge(backend, cache, f"{model.reference}@{model.revision}",
                    judge_sampling(max_tokens), seed)


@contextlib.contextmanager
def run_judge(config: GateConfig, engine: Backend | None, model: ModelRef | None,
              cache_path: str | Path) -> Iterator[Judge | None]:
    """The judge of a run's gate: None when the config leaves it off; else a Judge on the
    run's `engine` (model `model`), cached at `cache_path`. `judge.model`, when the config
    names one, must be the run's model: the run's engine serves no other."""
    judge = config.judge
    if not judge.enabled:
        yield None
        return
    if engine is None or model is None:
        raise RobustclapError("the gate config switches the LLM judge on (judge.enabled) but "
                              "this gate has no engine: run it in `robustclap run`, or pass "
                              "--judge-model MODEL to `robustclap gate`")
    if judge.model and judge.model != model.reference:
        raise RobustclapError(
            f"judge.model is {judge.model!r} but the run's engine serves {model.reference!r}: "
            "the run judges with its own engine; remove judge.model or make it the run's model")
    with open_judge(model, cache_path, judge.max_tokens, judge.seed, engine=engine) as j:
        yield j
