"""Served backend: any OpenAI-compatible chat endpoint, first of all `vllm serve`.

Bounded concurrency; the OpenAI client's own retries with exponential backoff cover the
transient errors (refused connection, timeout, 408/409/429/5xx) and never retry permanent ones
(400, 401, 404, 422). After all retries a refused/timed-out endpoint trips a breaker: requests
not yet sent fail at once instead of each waiting through its own retries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import openai

from robustclap.llm.types import (
    EndpointUnavailable,
    LLMRequest,
    LLMResponse,
    ResultCallback,
)

if TYPE_CHECKING:
    from robustclap.llm.settings import LLMSettings


class ServedBackend:
    def __init__(
        self, base_url: str, model: str, api_key: str = "EMPTY", concurrency: int = 32,
        timeout_s: float = 120.0, max_retries: int = 4, structured: str = "response_format",
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.structured = structured
        self.down: str | None = None

    @classmethod
    def from_config(cls, url: str, cfg: LLMSettings) -> ServedBackend:
        """The client the LLM settings ask for: the model under its served name, the
        endpoint's key, bounded concurrency, the per-request timeout and retries."""
        return cls(url, cfg.model, cfg.resolved_api_key(), cfg.concurrency,
                   cfg.request_timeout_s, cfg.max_retries)

    def _extra(self, req: LLMRequest) -> dict:
        if not req.json_schema:
            return {}
        if self.structured == "response_format":
            return {"response_format": {"type": "json_schema", "json_schema": {
                "name": "paraphrase", "schema": req.json_schema, "strict": True}}}
        return {"extra_body": {"structured_outputs": {"json": req.json_schema}}}

    async def _one(self, client: openai.AsyncOpenAI, sem: asyncio.Semaphore,
                   req: LLMRequest) -> LLMResponse:
        async with sem:
            if self.down:
                return LLMResponse(None, None, error=f"endpoint unavailable: {self.down}",
                                   retryable=True)
            start = time.perf_counter()
            try:
                resp = await client.chat.completions.create(
                    model=self.model, messages=req.messages, seed=req.seed,
                    temperature=req.sampling.temperature, top_p=req.sampling.top_p,
                    max_tokens=req.sampling.max_tokens, **self._extra(req),
                )
            except (openai.APIConnectionError, openai.APITimeoutError) as exc:
                self.down = f"{type(exc).__name__}: {exc}"[:300]
                return LLMResponse(None, None, error=f"transport: {self.down}", retryable=True)
            except openai.APIStatusError as exc:
                transient = exc.status_code in (408, 409, 429) or exc.status_code >= 500
                return LLMResponse(
                    None, None, retryable=transient,
                    error=f"http {exc.status_code}: {str(exc.message)[:300]}",
                )
            latency = time.perf_counter() - start
            choice = resp.choices[0] if resp.choices else None
            usage = resp.usage
            return LLMResponse(
                text=choice.message.content if choice else None,
                finish_reason=choice.finish_reason if choice else None,
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                latency_s=latency,
            )

    async def _run(self, requests: Sequence[LLMRequest], on_result: ResultCallback) -> None:
        client = openai.AsyncOpenAI(
            base_url=f"{self.base_url}/v1" if not self.base_url.endswith("/v1") else self.base_url,
            api_key=self.api_key, timeout=self.timeout_s, max_retries=self.max_retries,
        )
        sem = asyncio.Semaphore(self.concurrency)

        async def run(i: int, req: LLMRequest) -> None:
            on_result(i, await self._one(client, sem, req))

        try:
            await asyncio.gather(*(run(i, r) for i, r in enumerate(requests)))
        finally:
            await client.close()

    def generate(self, requests: Sequence[LLMRequest], on_result: ResultCallback) -> None:
        asyncio.run(self._run(requests, on_result))
        if self.down:
            raise EndpointUnavailable(self.down)

    def close(self) -> None:
        """Nothing to release: the HTTP client lives only inside each generate() call."""
