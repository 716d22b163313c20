"""The one loop that asks the LLM through the response cache (generation and the judge).

The caller says what to ask and how to read it: a cache key and a request per (item, attempt),
a parser, and which parsed replies are final. The loop owns the rest: it looks every key up,
sends only the misses to the backend (whose client bounds concurrency and retries transport
errors), stores each reply as it arrives (a killed run re-asks at most what was in flight;
errors are never stored), and asks again, as the next attempt, what did not parse, until
`max_attempts`. A transport error is final for this run (its row says retryable).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from robustclap.llm.types import Backend, LLMRequest, LLMResponse

T = TypeVar("T")
P = TypeVar("P")


class Cache(Protocol):
    """What the loop needs of a response cache (ResponseCache, WorkerCache)."""

    def get_many(self, keys: Iterable[str]) -> dict[str, LLMResponse]: ...

    def put(self, key: str, response: LLMResponse) -> None: ...


@dataclass
class AskStats:
    """Counts of the asking, added up over every call that is given the same object."""

    llm_calls: int = 0  # replies received from the backend
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_seconds: float = 0.0
    asked: int = 0  # requests sent (a request in flight when the endpoint died counts)


@dataclass(frozen=True)
class Answer(Generic[P]):
    """The final reply to one item: its parse, the attempt that gave it, cached or not."""

    response: LLMResponse
    parsed: P
    attempt: int
    from_cache: bool


NO_REPLY = LLMResponse(None, None, error="no reply")


def ask_cached(
    backend: Backend, cache: Cache, items: Sequence[T],
    key: Callable[[T, int], str], request: Callable[[T, int], LLMRequest],
    parse: Callable[[LLMResponse], P], *, final: Callable[[P], bool] = lambda parsed: True,
    max_attempts: int = 1, stats: AskStats | None = None,
    on_reply: Callable[[LLMResponse], None] | None = None,
    on_attempt: Callable[[int], None] | None = None,
) -> list[Answer[P]]:
    """One Answer per item, in order. `key(item, attempt)` names the reply in the cache and
    `request(item, attempt)` is built only for a miss; `parse` reads every reply (errors
    included); a reply is final when it is an error, `final(parsed)` holds, or the attempts
    are spent. `on_reply` sees each fresh reply, `on_attempt` the items finished per attempt.
    EndpointUnavailable from the backend propagates; the replies that arrived are cached."""
    stats = stats if stats is not None else AskStats()
    answers: dict[int, Answer[P]] = {}
    pending = list(range(len(items)))
    for attempt in range(max_attempts):
        if not pending:
            break
        keys = [key(items[i], attempt) for i in pending]
        hits = cache.get_many(keys)
        replies: dict[int, tuple[LLMResponse, bool]] = {}
        misses: list[int] = []
        for j, k in enumerate(keys):
            if k in hits:
                replies[j] = (hits[k], True)
            else:
                misses.append(j)
        stats.cache_hits += len(replies)
        if misses:
            reqs = [request(items[pending[j]], attempt) for j in misses]

            def done(m: int, res: LLMResponse, misses=misses, keys=keys,
                     replies=replies) -> None:
                j = misses[m]
                cache.put(keys[j], res)
                replies[j] = (res, False)
                stats.llm_calls += 1
                stats.prompt_tokens += res.prompt_tokens
                stats.completion_tokens += res.completion_tokens
                if on_reply is not None:
                    on_reply(res)

            stats.asked += len(reqs)
            start = time.perf_counter()
            try:
                backend.generate(reqs, done)
            finally:
                stats.llm_seconds += time.perf_counter() - start
        still: list[int] = []
        last = attempt == max_attempts - 1
        for j, i in enumerate(pending):
            res, cached = replies.get(j, (NO_REPLY, False))
            parsed = parse(res)
            if res.error is not None or final(parsed) or last:
                answers[i] = Answer(res, parsed, attempt, cached)
            else:
                still.append(i)
        if on_attempt is not None:
            on_attempt(len(pending) - len(still))
        pending = still
    return [answers[i] for i in range(len(items))]
