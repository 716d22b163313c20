"""The request/response types every backend speaks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class Sampling(BaseModel):
    """Sampling parameters; part of every cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    temperature: float = Field(0.8, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(128, ge=1, le=8192)


@dataclass(frozen=True)
class LLMRequest:
    messages: list[dict[str, str]]
    sampling: Sampling
    seed: int
    json_schema: dict | None  # structured output, or None for free text


@dataclass
class LLMResponse:
    """One completion. `error` is set (and text is None) when no reply could be obtained."""

    text: str | None
    finish_reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None
    retryable: bool = False  # a transport error worth asking again in a later run

    def to_dict(self) -> dict:
        return asdict(self)


ResultCallback = Callable[[int, LLMResponse], None]


class EndpointUnavailable(Exception):
    """The served endpoint stopped answering (refused / timed out after all retries)."""


class Backend(Protocol):
    """Generates completions; calls `on_result(index, response)` as each one is done, so the
    caller can commit it (a killed run re-asks at most what was in flight)."""

    def generate(self, requests: Sequence[LLMRequest], on_result: ResultCallback) -> None: ...

    def close(self) -> None: ...
